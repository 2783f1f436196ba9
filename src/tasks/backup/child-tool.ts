// A tool a backup runs as a child process (pg_dump, pg_restore, gpg): its exit as a promise with the reason in words, and a stop that leaves no orphan.
import { spawn, type ChildProcess } from 'node:child_process';
import type { Socket } from 'node:net';
import type { Readable, Writable } from 'node:stream';
import { ExternalError, type ErrorCode } from '../../errors.ts';
import { redactString } from '../../log.ts';

export interface ToolProcess {
  child: ChildProcess;
  stdout: Readable | null;
  stdin: Writable | null;
  /**
   * Settles once the process has exited: resolves for exit code 0, rejects with the exact reason otherwise
   * (exit code or signal, and the last lines it wrote to stderr). Never rejects unobserved.
   */
  exited: Promise<void>;
  /** Ends the process (SIGTERM, then SIGKILL after a grace period); the exit is still reported through `exited`. */
  stop(): void;
}

export interface ToolOptions {
  command: string;
  args: string[];
  /** stdin and stdout as for spawn; stderr is always read (its tail goes into the failure's message). */
  stdin: 'pipe' | 'ignore' | Readable;
  /** A socket: the child writes to it directly (see child-output.ts). */
  stdout: 'pipe' | 'ignore' | Socket;
  /** More descriptors after stderr (fd 3…), e.g. 'pipe' to hand gpg a key without a file. */
  extra?: Array<'pipe'>;
  env: Record<string, string | undefined>;
  /** The error code of a failure. */
  code: ErrorCode;
  /** What to tell the operator when the command is not installed. */
  install: string;
}

const STDERR_TAIL = 4_000;
const KILL_GRACE_MS = 5_000;

export function startTool(options: ToolOptions): ToolProcess {
  const name = options.command.split('/').pop() ?? options.command;
  const child = spawn(options.command, options.args, {
    stdio: [options.stdin, options.stdout, 'pipe', ...(options.extra ?? [])],
    env: options.env,
  });
  let stderr = '';
  child.stderr?.setEncoding('utf8');
  child.stderr?.on('data', (text: string) => {
    stderr = (stderr + text).slice(-STDERR_TAIL);
  });
  let killTimer: NodeJS.Timeout | undefined;
  const exited = new Promise<void>((resolve, reject) => {
    child.once('error', (error: NodeJS.ErrnoException) => {
      reject(
        new ExternalError(
          name,
          error.code === 'ENOENT'
            ? `cannot run ${options.command}: not found (${options.install})`
            : `cannot run ${options.command}: ${error.message}`,
          { code: options.code, cause: error },
        ),
      );
    });
    child.once('close', (code, signal) => {
      clearTimeout(killTimer);
      if (code === 0) return resolve();
      const said = lastLines(redactString(stderr));
      const how = signal ? `was killed by ${signal}` : `exited with code ${code}`;
      reject(new ExternalError(name, `${how}${said ? `: ${said}` : ''}`, { code: options.code }));
    });
  });
  exited.catch(() => undefined);
  return {
    child,
    stdout: child.stdout,
    stdin: child.stdin,
    exited,
    stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      killTimer ??= setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS);
      killTimer.unref();
      // Unread output would keep 'close' from firing.
      child.stdout?.destroy();
      child.stdin?.destroy();
    },
  };
}

function lastLines(text: string): string {
  return text
    .trim()
    .split('\n')
    .filter((line) => line.trim())
    .slice(-3)
    .join(' / ');
}
