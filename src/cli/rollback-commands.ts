// `runbook-bot rollback <service> [deployment] [revision]`: the rollback use case printed for a terminal, audited like the bot's.
import { systemClock } from '../clock.ts';
import { UserError, errorMessage } from '../errors.ts';
import { requireService } from '../handlers/listener.ts';
import type { CliCommand } from './command.ts';
import { openCliAudit } from './audit.ts';
import { formatImages } from '../tasks/rollback/template.ts';
import { undoOptions } from '../tasks/rollback/options.ts';
import type { UndoEnv } from '../tasks/rollback/undo.ts';

const ROLLBACK_USAGE = 'runbook-bot rollback <service> [deployment] [revision] [--force] [--dry-run]';

export const rollbackCommands: Record<string, CliCommand> = {
  rollback: {
    usage: ROLLBACK_USAGE,
    summary: 'roll a deployment back as `kubectl rollout undo` does, then follow the rollout (exit 1 unless it completes)',
    async run(args, config, io) {
      const usage = `Usage: ${ROLLBACK_USAGE}`;
      const flags = new Set(args.filter((arg) => arg.startsWith('--')));
      for (const flag of flags)
        if (flag !== '--force' && flag !== '--dry-run') throw new UserError(`unknown option ${flag}\n${usage}`);
      const words = args.filter((arg) => !arg.startsWith('--'));
      const [name, service] = requireService(config, words[0], usage);
      // The use case and the Kubernetes client library load only for this command.
      const [{ createKubernetesClients }, { completeUndo, runUndo, validateUndo }] = await Promise.all([
        import('../clients/kubernetes.ts'),
        import('../tasks/rollback/undo.ts'),
      ]);
      const env: UndoEnv = { kubernetes: (context) => createKubernetesClients(config, { context }), clock: systemClock };

      const completed = await completeUndo(undoOptions(name, service, words.slice(1), usage, flags.has('--force')), env);
      const { options, history, k8s } = completed;
      io.out(`deployment.apps/${options.deployment} in ${options.namespace} (context ${k8s.context}):`);
      io.out('  REVISION  IMAGES  CHANGE-CAUSE');
      for (const entry of history.revisions)
        io.out(
          `  ${`${entry.revision}${entry.current ? '*' : ''}`.padEnd(8)}  ${formatImages(entry.images)}  ${entry.changeCause ?? '<none>'}`,
        );
      const { plan, run } = validateUndo(completed);
      io.out(
        `rollback: revision ${plan.from.revision ?? '?'} -> ${plan.to.revision} (${formatImages(plan.from.images)} -> ${formatImages(plan.to.images)})`,
      );
      for (const reason of plan.forced) io.out(`forced: ${reason}`);

      const dryRun = flags.has('--dry-run');
      // A change from a terminal is audited like one from Slack; a dry run changes nothing and is not.
      const audit = dryRun ? undefined : await openCliAudit(config);
      const params = {
        namespace: run.namespace,
        deployment: run.deployment,
        from: run.fromRevision,
        to: run.toRevision,
        force: run.force,
      };
      try {
        await audit?.append({ action: 'command', target: name, params: { command: 'rollback', ...params }, result: 'running' });
        const { result, rollout } = await runUndo(run, env, {
          dryRun,
          onPatched: () => io.out(`deployment.apps/${run.deployment} rolled back`),
          onProgress: (status) => io.out(status.message),
        });
        if (!rollout) {
          io.out('dry run: nothing changed; this JSON patch would be sent:');
          io.out(JSON.stringify(result.patch, null, 2));
          return 0;
        }
        io.out(`${rollout.result}: ${rollout.message}`);
        await audit?.append({
          action: 'task.outcome',
          target: name,
          params: { command: 'rollback', ...params },
          result: `${rollout.result}: ${rollout.message}`,
        });
        return rollout.result === 'success' ? 0 : 1;
      } catch (error) {
        await audit
          ?.append({
            action: 'task.outcome',
            target: name,
            params: { command: 'rollback' },
            result: `failed: ${errorMessage(error)}`,
          })
          .catch(() => undefined);
        throw error;
      } finally {
        await audit?.close();
      }
    },
  },
};
