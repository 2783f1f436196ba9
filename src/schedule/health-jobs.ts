// The scheduled health and privacy budget work: the daily health post, the quiet health watch, the daily budget post.
import type { Clock } from '../clock.ts';
import type { Config } from '../config/schema.ts';
import type { HealthWatch } from '../incidents/health-watch.ts';
import { healthMessage } from '../slack/health-blocks.ts';
import { privacyBudgetMessage } from '../slack/privacy-budget-blocks.ts';
import type { SharedReads } from '../shared-reads.ts';
import type { Queryable } from '../store/db.ts';
import { healthRunOptions, healthTargets, runHealthChecks } from '../tasks/health/run.ts';
import { privacyBudgetTargets, readPrivacyBudgets } from '../tasks/privacy-budget.ts';
import type { JobWork } from './jobs.ts';

export interface HealthJobDeps {
  config: Config;
  clock: Clock;
  store: Queryable;
  healthWatch: Pick<HealthWatch, 'record'>;
  env?: Readonly<Record<string, string | undefined>>;
  /** Shares runs with the commands asking for the same at the same moment. */
  reads?: SharedReads | undefined;
}

/** Work for dailyHealth and healthWatch when a service has health checks, and for privacyBudget when one has a budget. */
export function healthJobWork(deps: HealthJobDeps): JobWork {
  const { config, clock } = deps;
  const env = deps.env ?? process.env;
  const services = Object.values(config.file.services);
  const work: JobWork = {};
  if (services.some((service) => service.health)) {
    const runAll = () => {
      const { services: targets, unchecked } = healthTargets(config, 'all');
      return runHealthChecks(targets, { ...healthRunOptions(config, clock, env), shared: deps.reads }, unchecked);
    };
    work.dailyHealth = async () => {
      const report = await runAll();
      const message = healthMessage(report, 'Daily health check');
      return { outcome: report.status === 'ok' ? 'ok' : 'warn', summary: message.summary, post: message };
    };
    work.healthWatch = async (context) => {
      const report = await runAll();
      const outcomes: string[] = [];
      for (const service of report.services) {
        const worst = service.checks.find((check) => check.status === service.status);
        const reason = worst ? `${worst.kind} ${worst.name}: ${worst.reason}` : (service.note ?? service.status);
        outcomes.push(
          `${service.service} ${service.status} (${await deps.healthWatch.record(service.service, service.status, reason)})`,
        );
      }
      context.log.debug({ event: 'health_watch.recorded', outcomes });
      return { outcome: report.status === 'ok' ? 'ok' : 'warn', summary: outcomes.join(', ') };
    };
  }
  if (services.some((service) => service.privacyBudget)) {
    work.privacyBudget = async (context) => {
      const { readings, failures } = await readPrivacyBudgets(privacyBudgetTargets(config, undefined), {
        store: deps.store,
        clock,
        env,
        httpTimeoutMs: config.file.timeouts.http,
        shared: deps.reads,
      });
      for (const failure of failures)
        if (failure.unexpected)
          context.log.error({ event: 'privacy_budget.failed', service: failure.service, err: failure.unexpected });
      const message = privacyBudgetMessage(readings, failures, 'Daily privacy budget');
      const outcome = failures.length > 0 ? 'failed' : readings.every((reading) => reading.status === 'ok') ? 'ok' : 'warn';
      return { outcome, summary: message.summary, post: message };
    };
  }
  return work;
}
