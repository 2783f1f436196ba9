// What a CLI command is: its usage line, its summary for `runbook-bot help`, and a run that returns the exit code.
import type { Config } from '../config/schema.ts';

export interface CliIo {
  out: (line: string) => void;
  err: (line: string) => void;
}

export interface CliCommand {
  usage: string;
  summary: string;
  /** Runs with the words after the command's name; returns the process's exit code. */
  run(args: string[], config: Config, io: CliIo, env: NodeJS.ProcessEnv): Promise<number>;
}
