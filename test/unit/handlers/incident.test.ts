// `/incident declare [P0-P3] [service] <title>`: what is taken as the severity, the service and the title.
import { describe, expect, it } from 'vitest';
import { UserError } from '../../../src/errors.ts';
import { parseDeclareText } from '../../../src/handlers/incident.ts';

const SERVICES = ['regulensai', 'rlhf-audit-trail'];
const parse = (text: string) => parseDeclareText(text, SERVICES, 'P2');

describe('parseDeclareText', () => {
  it('reads the severity and the service in front of the title, either one optional', () => {
    expect(parse('P1 regulensai database is down')).toEqual({
      severity: 'P1',
      service: 'regulensai',
      title: 'database is down',
    });
    expect(parse('p0 everything is down')).toEqual({ severity: 'P0', service: undefined, title: 'everything is down' });
    expect(parse('rlhf-audit-trail audit writes fail')).toEqual({
      severity: 'P2',
      service: 'rlhf-audit-trail',
      title: 'audit writes fail',
    });
    expect(parse('checkout is slow')).toEqual({ severity: 'P2', service: undefined, title: 'checkout is slow' });
  });

  it('copes with odd whitespace and keeps the spacing inside the title', () => {
    expect(parse('  P3\tregulensai\n slow   queries  ')).toEqual({
      severity: 'P3',
      service: 'regulensai',
      title: 'slow   queries',
    });
  });

  it('takes only a whole P0-P3 word as the severity, only a configured service, and only in that order', () => {
    expect(parse('P10 outage')).toMatchObject({ severity: 'P2', title: 'P10 outage' });
    expect(parse('P4 outage')).toMatchObject({ severity: 'P2', title: 'P4 outage' });
    expect(parse('billing outage')).toMatchObject({ service: undefined, title: 'billing outage' });
    expect(parse('regulensai P1 down')).toEqual({ severity: 'P2', service: 'regulensai', title: 'P1 down' });
    // A service name alone is the title: a declaration never loses its only words.
    expect(parse('regulensai')).toEqual({ severity: 'P2', service: undefined, title: 'regulensai' });
  });

  it.each(['', '   ', 'P1', 'p2   '])('refuses %j without a title, saying how to write one', (text) => {
    let error: unknown;
    try {
      parse(text);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(UserError);
    expect((error as UserError).code).toBe('usage');
    expect((error as UserError).message).toContain('/incident declare [P0-P3] [service] <title>');
  });
});
