// Ack latency of the bot against a minimal Bolt app, measured the same way for both: signed slash commands from a pool
// of concurrent senders, warmed up first, then interleaved rounds so that a noisy moment of the machine hits both alike.
import { readFileSync } from 'node:fs';
import { sendSlashCommand, type SlashCommand } from '../test/support/slack-requests.ts';

/** How the acks of a run read: ran at once, waited in line (with a position), or refused because the line was full. */
export interface AckTally {
  queued: number;
  refused: number;
}

export interface AckRunOptions {
  secret: string;
  concurrency: number;
  tally?: AckTally;
}

/** Sends `count` commands at the given concurrency; the sorted ack latencies in milliseconds. */
export async function measureAcks(
  baseUrl: string,
  input: () => SlashCommand,
  count: number,
  options: AckRunOptions,
): Promise<number[]> {
  const latencies: number[] = [];
  let next = 0;
  async function worker() {
    while (next < count) {
      next += 1;
      const command = input();
      const started = performance.now();
      const response = await sendSlashCommand(baseUrl, options.secret, command);
      latencies.push(performance.now() - started);
      if (response.status !== 200) throw new Error(`${command.command} answered ${response.status}`);
      if (options.tally && /Queued: position/.test(response.text)) options.tally.queued += 1;
      if (options.tally && /did not take this one/.test(response.text)) options.tally.refused += 1;
    }
  }
  await Promise.all(Array.from({ length: options.concurrency }, worker));
  return latencies.sort((a, b) => a - b);
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

export interface CompareOptions extends AckRunOptions {
  botUrl: string;
  minimalUrl: string;
  /** The processes' ids, for the CPU time each spent in its own rounds. */
  botPid?: number | undefined;
  minimalPid?: number | undefined;
  input: () => SlashCommand;
  requests: number;
  /** Commands sent to each app before measuring (JIT, pools). */
  warmUp?: number;
  rounds?: number;
}

export interface Comparison {
  /** The minimal app's ack latencies, sorted. */
  baseline: number[];
  /** The bot's, sorted. */
  ours: number[];
  /** CPU milliseconds each process spent in its own rounds (the bot's includes post-ack work that ran meanwhile). */
  cpu: { minimal: number; bot: number };
}

/** Warm-up, then alternating rounds of the minimal app and the bot. */
export async function compareAcks(options: CompareOptions): Promise<Comparison> {
  const { warmUp = 200, rounds = 4, requests, input } = options;
  const plain = { secret: options.secret, concurrency: options.concurrency };
  await measureAcks(options.minimalUrl, input, warmUp, plain);
  await measureAcks(options.botUrl, input, warmUp, options);
  const baseline: number[] = [];
  const ours: number[] = [];
  const cpu = { minimal: 0, bot: 0 };
  for (let round = 0; round < rounds; round += 1) {
    const minimalCpu = cpuMs(options.minimalPid);
    baseline.push(...(await measureAcks(options.minimalUrl, input, requests / rounds, plain)));
    cpu.minimal += cpuMs(options.minimalPid) - minimalCpu;
    const botCpu = cpuMs(options.botPid);
    ours.push(...(await measureAcks(options.botUrl, input, requests / rounds, options)));
    cpu.bot += cpuMs(options.botPid) - botCpu;
  }
  return { baseline: baseline.sort((a, b) => a - b), ours: ours.sort((a, b) => a - b), cpu };
}

export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
