// Reads the environment and the YAML file, validates both with one schema, and reports every problem at once.
import { existsSync, readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../errors.ts';
import { configSchema, missingSlackCredentials, type Config } from './schema.ts';

export const DEFAULT_CONFIG_PATH = './runbook-bot.yml';

export interface LoadConfigOptions {
  env?: NodeJS.ProcessEnv;
  /** Overrides RUNBOOK_BOT_CONFIG. */
  path?: string;
  cwd?: string;
  /** 'cli' does not require Slack credentials. */
  mode?: 'bot' | 'cli';
}

/** Loads and validates the configuration; throws ConfigError naming every bad key. */
export function loadConfig(options: LoadConfigOptions = {}): Config {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const explicit = options.path ?? (env.RUNBOOK_BOT_CONFIG || undefined);
  const path = resolve(cwd, explicit ?? DEFAULT_CONFIG_PATH);

  let fileData: unknown = {};
  let source: string | undefined;
  if (existsSync(path)) {
    source = path;
    fileData = readYaml(path);
  } else if (explicit) {
    throw new ConfigError([`RUNBOOK_BOT_CONFIG (environment): the file ${path} does not exist`]);
  }
  return parseConfig(env, fileData, source, options.mode);
}

/** Validates already-read sources; used by loadConfig and by tests. */
export function parseConfig(
  env: NodeJS.ProcessEnv | Record<string, string | undefined>,
  fileData: unknown,
  source?: string,
  mode: 'bot' | 'cli' = 'bot',
): Config {
  const result = configSchema.safeParse({ env, file: fileData ?? {} });
  const issues = result.success ? [] : formatIssues(result.error.issues, source);
  if (mode === 'bot') {
    for (const { variable, message } of missingSlackCredentials(env)) issues.unshift(`${variable} (environment): ${message}`);
  }
  if (!result.success || issues.length > 0) throw new ConfigError(issues, source);
  const { env: parsedEnv, file } = result.data;
  return { env: parsedEnv, file, timezone: file.timezone ?? parsedEnv.TZ ?? 'UTC', source, variables: env };
}

function readYaml(path: string): unknown {
  const text = readFileSync(path, 'utf8');
  const document = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (document.errors.length > 0) {
    throw new ConfigError(
      document.errors.map((error) => `${path}: YAML syntax: ${error.message.split('\n')[0]}`),
      path,
    );
  }
  return document.toJS() ?? {};
}

function formatIssues(issues: readonly z.core.$ZodIssue[], source: string | undefined): string[] {
  return issues.map((issue) => {
    const [root, ...rest] = issue.path.map(String);
    let message = issue.message;
    if (issue.code === 'unrecognized_keys') message = `unknown key(s) ${issue.keys.map((key) => `"${key}"`).join(', ')}`;
    if (root === 'env') return `${rest.join('.')} (environment): ${message}`;
    const where = rest.length > 0 ? formatPath(rest) : '(top level)';
    return `${source ?? 'config file'}: ${where}: ${message}`;
  });
}

function formatPath(parts: string[]): string {
  return parts.map((part, i) => (/^\d+$/.test(part) ? `[${part}]` : i === 0 ? part : `.${part}`)).join('');
}
