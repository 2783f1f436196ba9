// Waits until a bot has nothing left to do soon: no request work in flight and no durable work due (queued Slack
// posts, setups, alert deliveries); escalation timers and alarms that fall due later are not waited for.
import type { Bot } from '../../src/app.ts';

export async function settled(bot: Bot, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    await bot.idle();
    const { rows } = await bot.store.query<{ n: number }>(
      `SELECT count(*) AS n FROM work
       WHERE kind NOT IN ('escalation', 'ack_alarm', 'lock', 'schedule') AND (state = 'running' OR (state = 'pending' AND run_at <= $1))`,
      [new Date(Date.now() + 30_000)],
    );
    if (rows[0]!.n === 0) return;
    if (Date.now() > deadline) {
      const left = await bot.store.query<{ key: string; state: string; attempts: number; last_error: string | null }>(
        `SELECT key, state, attempts, last_error FROM work WHERE state IN ('pending', 'running') AND kind NOT IN ('escalation', 'ack_alarm', 'lock', 'schedule') ORDER BY kind DESC LIMIT 5`,
      );
      throw new Error(`durable work still unfinished after ${timeoutMs} ms: ${JSON.stringify(left.rows)}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}
