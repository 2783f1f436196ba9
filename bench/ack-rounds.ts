// Ack latency of the bot against a minimal Bolt app, measured the same way for both: signed slash commands from a pool
// of concurrent senders in a load-generator process of its own (ack-load.ts), warmed up first, then alternating
// rounds (minimal, bot, bot, minimal, …) so that a noisy moment of the machine hits both alike. After each of the bot's
// rounds the bench waits until the bot's post-ack work is done, so that work is counted against the bot's own acks
// (as it would be in production) and never against the minimal app's.
import { fork, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import type { SlashCommand } from '../test/support/slack-requests.ts';
import type { LoadJob, LoadResult } from './ack-load.ts';

const LOAD_GENERATOR = fileURLToPath(new URL('./ack-load.ts', import.meta.url));

/** How the acks of a run read: ran at once, waited in line (with a position), or refused because the line was full. */
export interface AckTally {
  queued: number;
  refused: number;
}

/** User + system CPU time of a process so far, from /proc (Linux); 0 where it cannot be read. */
export function cpuMs(pid: number | undefined): number {
  try {
    // Fields after the command's closing parenthesis: utime and stime are the 12th and 13th, in clock ticks (100 a second).
    const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
    return (Number(fields[11]) + Number(fields[12])) * 10;
  } catch {
    return 0;
  }
}

/** Resolves once the bot reports no post-ack work running or waiting (its /metrics queue gauges), or after timeoutMs. */
export async function botSettled(baseUrl: string, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (performance.now() < deadline) {
    const metrics = await (await fetch(`${baseUrl}/metrics`)).text();
    const busy = [...metrics.matchAll(/^runbook_bot_queue_jobs\{[^}]*\} (\S+)$/gm)].some(([, value]) => Number(value) > 0);
    if (!busy) return;
    await sleep(250);
  }
}

export interface CompareOptions {
  secret: string;
  concurrency: number;
  botUrl: string;
  minimalUrl: string;
  /** The processes' ids, for the CPU time each spent in its own rounds. */
  botPid?: number | undefined;
  minimalPid?: number | undefined;
  /** The next command to send (a fresh response URL each). */
  input: () => SlashCommand;
  /** Commands measured per app. */
  requests: number;
  /**
   * Commands sent to each app before measuring: enough for the JIT to settle on the bot's request path (with 200, the
   * bot's first rounds still ran partly unoptimised code, at up to twice the CPU per command of its later rounds).
   */
  warmUp?: number;
  /** Each round on connections of its own (see ack-load.ts); by default they stay open from one round to the next. */
  freshConnections?: boolean;
  /** Rounds per app; `requests` are split evenly among them. */
  rounds?: number;
  /** Counts the bot's queued and refused acks. */
  tally?: AckTally;
}

export interface Comparison {
  /** The minimal app's ack latencies, sorted. */
  baseline: number[];
  /** The bot's, sorted. */
  ours: number[];
  /** p99 of each round, minimal and bot, in the order run: the spread behind the pooled figures. */
  rounds: Array<{ minimal: number; bot: number }>;
  /** CPU milliseconds each process spent in its own rounds (the bot's includes post-ack work that ran meanwhile). */
  cpu: { minimal: number; bot: number };
}

/** Commands sent to each app before the measured rounds, unless told otherwise. */
export const WARM_UP = 1_000;

/** The warm-up's parts, each ended by the bot's settle step. */
const WARM_UP_PARTS = 4;

/** The load-generator process: one job at a time. */
class LoadGenerator {
  readonly #child: ChildProcess = fork(LOAD_GENERATOR, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });

  async run(job: LoadJob): Promise<LoadResult> {
    const answer = once(this.#child, 'message') as Promise<[LoadResult]>;
    this.#child.send(job);
    const [result] = await answer;
    if (result.failure) throw new Error(`ack round against ${job.baseUrl}: ${result.failure}`);
    return result;
  }

  async close(): Promise<void> {
    const exited = once(this.#child, 'exit');
    this.#child.kill();
    await exited;
  }
}

/** Warm-up, then alternating rounds of the minimal app and the bot, each from the separate load generator. */
export async function compareAcks(options: CompareOptions): Promise<Comparison> {
  const { warmUp = WARM_UP, rounds = 8, requests, input, secret, concurrency, freshConnections = false } = options;
  const generator = new LoadGenerator();
  const commands = (count: number) => Array.from({ length: count }, input);
  const send = (baseUrl: string, count: number) =>
    generator.run({ baseUrl, secret, concurrency, freshConnections, commands: commands(count) });
  const settle = () => botSettled(options.botUrl);
  try {
    // The warm-up comes in parts, each followed by the bot's settle step (a read of its /metrics), as the measured rounds
    // are: the first such read after a run of commands alone sent node's HTTP server code down another path and V8
    // dropped its optimised code (--trace-deopt: a score of "wrong map" bailouts), so the first measured rounds paid
    // for reoptimising it, which the minimal app, never read that way, did not.
    for (let part = 0; part < WARM_UP_PARTS; part += 1) {
      await send(options.minimalUrl, Math.ceil(warmUp / WARM_UP_PARTS));
      await send(options.botUrl, Math.ceil(warmUp / WARM_UP_PARTS));
      await settle();
    }
    const baseline: number[] = [];
    const ours: number[] = [];
    const perRound: Comparison['rounds'] = [];
    const cpu = { minimal: 0, bot: 0 };
    const perApp = Math.ceil(requests / rounds);
    for (let round = 0; round < rounds; round += 1) {
      const measured = { minimal: 0, bot: 0 };
      const minimalRound = async () => {
        const before = cpuMs(options.minimalPid);
        const { latencies } = await send(options.minimalUrl, perApp);
        cpu.minimal += cpuMs(options.minimalPid) - before;
        baseline.push(...latencies);
        measured.minimal = percentile(
          [...latencies].sort((a, b) => a - b),
          99,
        );
      };
      const botRound = async () => {
        const before = cpuMs(options.botPid);
        const { latencies, queued, refused } = await send(options.botUrl, perApp);
        await settle();
        cpu.bot += cpuMs(options.botPid) - before;
        ours.push(...latencies);
        measured.bot = percentile(
          [...latencies].sort((a, b) => a - b),
          99,
        );
        if (options.tally) {
          options.tally.queued += queued;
          options.tally.refused += refused;
        }
      };
      // Minimal first in even rounds, the bot first in odd ones: a drift of the machine's load favours neither.
      if (round % 2 === 0) {
        await minimalRound();
        await botRound();
      } else {
        await botRound();
        await minimalRound();
      }
      perRound.push(measured);
    }
    return { baseline: baseline.sort((a, b) => a - b), ours: ours.sort((a, b) => a - b), rounds: perRound, cpu };
  } finally {
    await generator.close();
  }
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[middle]! : (sorted[middle - 1]! + sorted[middle]!) / 2;
}
