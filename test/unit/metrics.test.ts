import { describe, expect, it } from 'vitest';
import { createMetrics } from '../../src/metrics.ts';

describe('gauges read at the scrape', () => {
  it('reads the state once per scrape, and each scrape, however soon after the last, reads it again', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    let depth = 3;
    let reads = 0;
    metrics.onCollect(() => {
      reads += 1;
      metrics.queueJobs.set({ kind: 'health', state: 'waiting' }, depth);
      metrics.slackQueueDepth.set({ priority: 'page' }, depth);
    });
    const first = await metrics.registry.metrics();
    expect(first).toContain('runbook_bot_queue_jobs{kind="health",state="waiting"} 3');
    expect(first).toContain('runbook_bot_slack_queue_depth{priority="page"} 3');
    // Several gauges are filled by the one collector: it ran once for the whole scrape.
    expect(reads).toBe(1);

    depth = 0;
    const second = await metrics.registry.metrics();
    expect(second).toContain('runbook_bot_queue_jobs{kind="health",state="waiting"} 0');
    expect(reads).toBe(2);
  });
});
