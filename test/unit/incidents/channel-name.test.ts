// Incident channel names: <prefix>-YYYY-MM-DD-HHMM in the configured time zone, -2, -3… when taken, within Slack's rules.
import { describe, expect, it } from 'vitest';
import { incidentChannelName } from '../../../src/incidents/channel-name.ts';

const SLACK_NAME = /^[a-z0-9_-]{1,80}$/;
const at = new Date('2026-11-22T15:34:20Z');

describe('incidentChannelName', () => {
  it('stamps the wall-clock minute of the configured time zone, the date included', () => {
    expect(incidentChannelName('incident', at, 'UTC')).toBe('incident-2026-11-22-1534');
    expect(incidentChannelName('incident', at, 'America/New_York')).toBe('incident-2026-11-22-1034');
    expect(incidentChannelName('incident', at, 'Asia/Kolkata')).toBe('incident-2026-11-22-2104');
    expect(incidentChannelName('inc', new Date('2026-12-31T23:59:00Z'), 'Europe/Berlin')).toBe('inc-2027-01-01-0059');
    // Midnight is 00, never 24.
    expect(incidentChannelName('inc', new Date('2026-11-22T00:05:00Z'), 'UTC')).toBe('inc-2026-11-22-0005');
  });

  it('numbers later attempts from 2, the first one unnumbered', () => {
    expect(incidentChannelName('incident', at, 'UTC', 1)).toBe('incident-2026-11-22-1534');
    expect(incidentChannelName('incident', at, 'UTC', 2)).toBe('incident-2026-11-22-1534-2');
    expect(incidentChannelName('incident', at, 'UTC', 12)).toBe('incident-2026-11-22-1534-12');
  });

  it.each([
    ['SEV Incident!!', 'sev-incident'],
    ['ops_team', 'ops_team'],
    ['--inc--', 'inc'],
    ['Überwachung', 'berwachung'],
    ['!!!', 'incident'],
    ['', 'incident'],
  ])('makes the prefix %j Slack-safe as %j', (prefix, safe) => {
    const name = incidentChannelName(prefix, at, 'UTC');
    expect(name).toBe(`${safe}-2026-11-22-1534`);
    expect(name).toMatch(SLACK_NAME);
  });

  it('shortens a long prefix so the stamp and the attempt number always fit in 80 characters', () => {
    for (const attempt of [1, 2, 12, 123]) {
      const name = incidentChannelName('a'.repeat(100), at, 'UTC', attempt);
      expect(name).toHaveLength(80);
      expect(name).toMatch(SLACK_NAME);
      expect(name.endsWith(`-2026-11-22-1534${attempt > 1 ? `-${attempt}` : ''}`)).toBe(true);
    }
  });
});
