// The audit chain's hash: SHA-256 over the previous hash and the row's canonical JSON; any change to a row changes it.
import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { canonicalJson, hashAuditRow, type AuditRow } from '../../../src/store/audit.ts';

const row: Omit<AuditRow, 'hash'> = {
  seq: 7,
  at: new Date('2026-11-22T15:34:20.123Z'),
  actor: 'U0ALICE',
  action: 'command',
  target: '/health',
  channel: 'C0GENERAL',
  params: { text: 'all', flags: ['--details'] },
  result: 'ok',
  prev_hash: 'a'.repeat(64),
};

describe('canonicalJson', () => {
  it('sorts keys at every depth, keeps array order, and drops undefined fields as JSON does', () => {
    expect(canonicalJson({ b: 1, a: { d: [3, 1], c: null }, e: undefined })).toBe('{"a":{"c":null,"d":[3,1]},"b":1}');
    expect(canonicalJson({ a: { c: null, d: [3, 1] }, b: 1 })).toBe(canonicalJson({ b: 1, a: { d: [3, 1], c: null } }));
  });

  it('writes scalars as JSON, and undefined as null', () => {
    expect(canonicalJson('say "hi"')).toBe('"say \\"hi\\""');
    expect(canonicalJson(1.5)).toBe('1.5');
    expect(canonicalJson(null)).toBe('null');
    expect(canonicalJson(undefined)).toBe('null');
    expect(canonicalJson([])).toBe('[]');
    expect(canonicalJson({})).toBe('{}');
  });
});

describe('hashAuditRow', () => {
  it('is SHA-256 of the previous hash, a newline and the canonical row, so chains written before still verify', () => {
    const body =
      '{"action":"command","actor":"U0ALICE","at":"2026-11-22T15:34:20.123Z","channel":"C0GENERAL",' +
      '"params":{"flags":["--details"],"text":"all"},"result":"ok","seq":7,"target":"/health"}';
    const expected = createHash('sha256')
      .update(`${'a'.repeat(64)}\n${body}`)
      .digest('hex');
    expect(hashAuditRow(row)).toBe(expected);
  });

  it('writes empty fields as null in the same place, as the chain has always had them', () => {
    const bare = { ...row, action: 'denied', target: null, channel: null, params: {}, result: null };
    const body =
      '{"action":"denied","actor":"U0ALICE","at":"2026-11-22T15:34:20.123Z","channel":null,"params":{},"result":null,' +
      '"seq":7,"target":null}';
    expect(hashAuditRow(bare)).toBe(
      createHash('sha256')
        .update(`${'a'.repeat(64)}\n${body}`)
        .digest('hex'),
    );
  });

  it("does not depend on the order of the params' keys (jsonb reorders them)", () => {
    expect(hashAuditRow({ ...row, params: { flags: ['--details'], text: 'all' } })).toBe(hashAuditRow(row));
  });

  it.each<[string, Partial<Omit<AuditRow, 'hash'>>]>([
    ['seq', { seq: 8 }],
    ['at', { at: new Date('2026-11-22T15:34:20.124Z') }],
    ['actor', { actor: 'U0MALLORY' }],
    ['action', { action: 'button' }],
    ['target', { target: '/rollback' }],
    ['target (null against empty)', { target: null }],
    ['channel', { channel: null }],
    ['params', { params: { text: 'all ' } }],
    ['params (array order)', { params: { text: 'all', flags: ['--details', '--all'] } }],
    ['result', { result: 'denied' }],
    ['prev_hash', { prev_hash: 'b'.repeat(64) }],
  ])('changes when %s changes', (_field, change) => {
    expect(hashAuditRow({ ...row, ...change })).not.toBe(hashAuditRow(row));
  });

  it('tells an empty target from a missing one', () => {
    expect(hashAuditRow({ ...row, target: '' })).not.toBe(hashAuditRow({ ...row, target: null }));
  });
});
