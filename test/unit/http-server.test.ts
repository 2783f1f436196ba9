// Routing reads a request's path as the URL parser would, with or without the parser.
import { describe, expect, it } from 'vitest';
import { pathOf } from '../../src/http-server.ts';

describe('pathOf', () => {
  it('reads every request target as the URL parser does', () => {
    const targets = [
      '/slack/events',
      '/metrics?name[]=runbook_bot_queue_jobs',
      '/',
      '/healthz?',
      '/readyz#top',
      '/x?then=/../metrics',
      'http://bot.internal/metrics',
      '/./metrics',
      '/api/../metrics',
      '/%6detrics',
      '//metrics',
      '/webhook\\alertmanager',
      '/webhooks/alertmanager/',
    ];
    expect(targets.map((target) => pathOf(target))).toEqual(
      targets.map((target) => new URL(target, 'http://localhost').pathname),
    );
    expect(pathOf(undefined)).toBe('/');
  });
});
