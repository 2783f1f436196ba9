// The bot's listeners behind one map: a request reaches its listener and no other; one without a listener is acked by
// the request middleware as before; a name registered twice is a mistake caught at start-up.
import { describe, expect, it } from 'vitest';
import { Router } from '../src/handlers/router.ts';
import { CANCEL_ACTION_ID } from '../src/slack/confirmation-blocks.ts';
import { startTestBot } from './support/bot.ts';
import { newTriggerId, sendBlockAction, sendSlashCommand } from './support/slack-requests.ts';

describe('the listener router', () => {
  it('refuses two listeners for the same command, action, view or shortcut', () => {
    const routes = new Router();
    const listener = async () => undefined;
    routes.command('/health', listener);
    routes.action('incident:ack', listener);
    // The same name under another kind is another route.
    routes.view('incident:ack', listener);
    expect(() => routes.command('health', listener)).toThrow('two listeners for the command health');
    expect(() => routes.action('incident:ack', listener)).toThrow('two listeners for the action incident:ack');
  });

  it('acks a click and a command that have no listener, and answers the ones that do', async () => {
    const t = await startTestBot({ extra: { schedules: { autoStart: false } } });
    try {
      // A button of an older message whose action this version no longer has: acked, nothing else.
      const unknown = await sendBlockAction(t.baseUrl, t.secret, {
        actionId: 'retired:button',
        value: '1',
        userId: 'U0ALICE',
        triggerId: newTriggerId(),
      });
      expect({ status: unknown.status, text: unknown.text }).toEqual({ status: 200, text: '' });
      const responseUrl = t.slack.newResponseUrl();
      const cancel = await sendBlockAction(t.baseUrl, t.secret, {
        actionId: CANCEL_ACTION_ID,
        value: 'gone',
        userId: 'U0ALICE',
        triggerId: newTriggerId(),
        ephemeral: true,
        responseUrl,
      });
      expect(cancel.status).toBe(200);
      const usage = await sendSlashCommand(t.baseUrl, t.secret, { command: '/health', text: 'help' });
      expect(usage.text).toContain('Usage: `/health [service|all] [--details]`');
      await t.bot.idle();
      expect(t.slack.responses(responseUrl).map((response) => response.body.text)).toEqual([
        'This confirmation no longer exists. Run the command again.',
      ]);
    } finally {
      await t.stop();
      await t.slack.close();
    }
  });
});
