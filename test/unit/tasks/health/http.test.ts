// JSON assertions of HTTP checks ("integrity_score >= 0.95"): how the config text is read, and what each answer yields.
import { describe, expect, it } from 'vitest';
import { jsonAssertionSchema } from '../../../../src/config/schema.ts';
import { assertJson } from '../../../../src/tasks/health/http.ts';

const assertion = (text: string) => jsonAssertionSchema.parse(text);
const check = (body: unknown, ...texts: string[]) =>
  assertJson(typeof body === 'string' ? body : JSON.stringify(body), texts.map(assertion));

describe('jsonAssertionSchema', () => {
  it.each([
    ['integrity_score >= 0.95', { path: 'integrity_score', op: '>=', value: 0.95 }],
    ['  count<3  ', { text: 'count<3', path: 'count', op: '<', value: 3 }],
    ['delta > -1', { op: '>', value: -1 }],
    ['checks.database == "ok"', { path: 'checks.database', op: '==', value: 'ok' }],
    ["status != 'down'", { op: '!=', value: 'down' }],
    ['items[0].ready == true', { path: 'items[0].ready', value: true }],
    ['error == null', { value: null }],
    // Not a number, so compared as the text it is.
    ['version == 1.2.3', { value: '1.2.3' }],
  ])('reads %j', (text, expected) => {
    expect(assertion(text)).toMatchObject(expected);
  });

  it.each(['>= 3', 'score >=', 'score = 3', 'score ~ 3', '1score == 2', 'a..b == 1', ''])(
    'refuses %j, saying what one looks like',
    (text) => {
      const result = jsonAssertionSchema.safeParse(text);
      expect(result.success).toBe(false);
      expect(result.error?.issues[0]?.message).toBe(`"${text}" is not an assertion like "integrity_score >= 0.95"`);
    },
  );
});

describe('assertJson', () => {
  it('shows the value when an assertion holds, and what was expected when it does not', () => {
    expect(check({ integrity_score: 0.97 }, 'integrity_score >= 0.95')).toEqual([
      { status: 'ok', text: 'integrity_score = 0.97' },
    ]);
    expect(check({ integrity_score: 0.9 }, 'integrity_score >= 0.95')).toEqual([
      { status: 'critical', text: 'integrity_score = 0.9 (expected >= 0.95)' },
    ]);
  });

  it('gives one finding per assertion, in order, following paths into objects and arrays', () => {
    const body = { checks: [{ status: 'ok' }, { status: 'down' }], error: null, queued: 4 };
    expect(check(body, 'checks[0].status == "ok"', 'checks[1].status == "ok"', 'error == null', 'queued < 5')).toEqual([
      { status: 'ok', text: 'checks[0].status = "ok"' },
      { status: 'critical', text: 'checks[1].status = "down" (expected == "ok")' },
      { status: 'ok', text: 'error = null' },
      { status: 'ok', text: 'queued = 4' },
    ]);
  });

  it('names a path the answer lacks, including an index into an object or a key into an array', () => {
    const body = { checks: [{ status: 'ok' }], meta: { count: 1 } };
    for (const path of ['database', 'checks[3].status', 'checks.status', 'meta[0]', 'meta.count.value'])
      expect(check(body, `${path} == 1`)).toEqual([{ status: 'critical', text: `${path} is missing from the answer` }]);
  });

  it('says when an ordering cannot apply to the value, and compares == and != strictly', () => {
    expect(check({ status: 'ok' }, 'status >= 1')).toEqual([
      { status: 'critical', text: 'status is "ok", which cannot be compared with >= 1' },
    ]);
    expect(check({ count: 3 }, 'count != "3"')).toEqual([{ status: 'ok', text: 'count = 3' }]);
    expect(check({ count: '3' }, 'count == 3')).toEqual([{ status: 'critical', text: 'count = "3" (expected == 3)' }]);
  });

  it('reports an answer that is not JSON once, with the start of what came instead', () => {
    expect(check('<html>Bad   Gateway</html>\n', 'integrity_score >= 0.95', 'status == "ok"')).toEqual([
      {
        status: 'critical',
        text: 'the answer is not JSON ("<html>Bad Gateway</html>"), so integrity_score >= 0.95 cannot be checked',
      },
    ]);
    expect(check('', 'status == "ok"')).toEqual([
      { status: 'critical', text: 'the answer is not JSON, so status == "ok" cannot be checked' },
    ]);
    expect(check(`${'x'.repeat(100)}`, 'a == 1')[0]!.text).toBe(
      `the answer is not JSON ("${'x'.repeat(40)}"), so a == 1 cannot be checked`,
    );
  });
});
