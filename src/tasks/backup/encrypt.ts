// OpenPGP encryption of backups by gpg, as the runbooks do it (`pg_dump | gpg -e`): the recipient's public key from config, checked by gpg, and gpg as a pipe.
// gpg runs with no home directory and no keyring: the key travels on a pipe, nothing is written to disk, and `gpg --decrypt` reads the result.
import type { Socket } from 'node:net';
import type { Readable } from 'node:stream';
import { readFileSync } from 'node:fs';
import type { ServiceConfig } from '../../config/schema.ts';
import { ConfigError, errorMessage } from '../../errors.ts';
import { startTool, type ToolProcess } from './child-tool.ts';

export type EncryptionSettings = NonNullable<NonNullable<ServiceConfig['backup']>['encryption']>;

export interface RecipientKey {
  /** The armored public key, as configured. */
  armored: string;
  /** Upper-case hex fingerprint of the primary key, as gpg prints it. */
  fingerprint: string;
  userIds: string[];
}

type Env = Readonly<Record<string, string | undefined>>;

// A home directory that does not exist, no options file, no keyring, no trust database, no random seed file: gpg
// keeps everything in memory. The key comes on fd 3 (--recipient-file), so no key file exists either.
const GPG_ISOLATION = [
  '--homedir',
  '/nonexistent/runbook-bot-gnupg',
  '--batch',
  '--no-tty',
  '--no-options',
  '--no-keyring',
  '--trust-model',
  'always',
  '--no-random-seed-file',
  '--no-auto-key-locate',
  '--no-permission-warning',
];
const INSTALL_GPG = 'install GnuPG, e.g. the Debian package gnupg';

/** Reads the armored public key named in backup.encryption and has gpg check it; ConfigError says exactly what is wrong. */
export async function loadRecipientKey(settings: EncryptionSettings, env: Env): Promise<RecipientKey> {
  const where = settings.publicKeyEnv
    ? `backup.encryption.publicKeyEnv (${settings.publicKeyEnv})`
    : `backup.encryption.publicKeyFile (${settings.publicKeyFile})`;
  const armored = readKeyText(where, settings.publicKeyEnv, settings.publicKeyFile, env);
  const shown = startTool({
    command: 'gpg',
    args: [...GPG_ISOLATION, '--with-colons', '--show-keys'],
    stdin: 'pipe',
    stdout: 'pipe',
    env: gpgEnvironment(env),
    code: 'encryption_failed',
    install: INSTALL_GPG,
  });
  shown.stdin!.on('error', () => undefined);
  shown.stdin!.end(armored);
  let listing = '';
  shown.stdout!.setEncoding('utf8');
  shown.stdout!.on('data', (text: string) => (listing += text));
  // A private key is listed, and then gpg fails for want of an agent: the listing says what it is.
  const failed = await shown.exited.then(
    () => undefined,
    (error: unknown) => error,
  );
  if (failed && (failed as { cause?: NodeJS.ErrnoException }).cause?.code === 'ENOENT') throw failed;
  if (failed && !/^(pub|sec):/m.test(listing))
    throw new ConfigError([`${where}: not an armored OpenPGP public key (${errorMessage(failed)})`]);
  return parseKeyListing(where, armored, listing);
}

/** gpg --with-colons: the first key's fingerprint and user ids, refused when it is private or cannot encrypt. */
export function parseKeyListing(where: string, armored: string, listing: string): RecipientKey {
  const records = listing.split('\n').map((line) => line.split(':'));
  const primary = records.find((fields) => fields[0] === 'pub' || fields[0] === 'sec');
  if (!primary) throw new ConfigError([`${where}: not an armored OpenPGP public key (gpg found no key in it)`]);
  if (primary[0] === 'sec') throw new ConfigError([`${where}: holds a private key; give the recipient's public key only`]);
  const primaryAt = records.indexOf(primary);
  const nextKey = records.findIndex((fields, i) => i > primaryAt && (fields[0] === 'pub' || fields[0] === 'sec'));
  const own = records.slice(primaryAt, nextKey < 0 ? undefined : nextKey);
  const fingerprint = own.find((fields) => fields[0] === 'fpr')?.[9] ?? '';
  const userIds = own.filter((fields) => fields[0] === 'uid').map((fields) => unescapeColons(fields[9] ?? ''));
  // Field 12 holds the whole key's usable capabilities in capitals: an E means some subkey can encrypt now.
  if (!(primary[11] ?? '').includes('E')) {
    const validity = primary[1];
    const why = validity === 'e' ? 'it has expired' : validity === 'r' ? 'it is revoked' : 'no subkey of it can encrypt';
    throw new ConfigError([`${where}: the key cannot encrypt (${why}); is it expired or revoked?`]);
  }
  return { armored, fingerprint: fingerprint.toUpperCase(), userIds };
}

/**
 * gpg encrypting `input` to the recipient: pg_dump's output handed to gpg directly (no byte of plaintext passes through
 * this process), or 'pipe' to write to its stdin. The ciphertext (a binary OpenPGP message) goes to `output`: a pipe to
 * this process, or a socket (see child-output.ts). No compression: pg_dump -Fc already compresses.
 */
export function startEncryption(
  recipient: RecipientKey,
  input: Readable | 'pipe',
  env: Env,
  output: 'pipe' | Socket = 'pipe',
): ToolProcess {
  const gpg = startTool({
    command: 'gpg',
    // `-&3` is file descriptor 3 (--enable-special-filenames): Node's pipes are sockets, which /dev/fd/3 cannot open.
    args: [...GPG_ISOLATION, '--enable-special-filenames', '--compress-algo', 'none', '--recipient-file', '-&3', '--encrypt'],
    stdin: input,
    stdout: output,
    extra: ['pipe'],
    env: gpgEnvironment(env),
    code: 'encryption_failed',
    install: INSTALL_GPG,
  });
  const keyPipe = gpg.child.stdio[3] as NodeJS.WritableStream & { on(event: 'error', listener: () => void): void };
  keyPipe.on('error', () => undefined);
  keyPipe.end(recipient.armored);
  return gpg;
}

function gpgEnvironment(env: Env): Record<string, string | undefined> {
  // gpg needs PATH and the locale, nothing of the bot's secrets.
  return { PATH: env.PATH ?? process.env.PATH, LANG: 'C', LC_ALL: 'C' };
}

function unescapeColons(text: string): string {
  return text.replace(/\\x([0-9a-f]{2})/gi, (_, hex: string) => String.fromCharCode(parseInt(hex, 16)));
}

export function readKeyText(where: string, envName: string | undefined, file: string | undefined, env: Env): string {
  if (envName) {
    const value = env[envName];
    if (!value?.trim()) throw new ConfigError([`${where}: the environment variable is not set`]);
    return value;
  }
  try {
    return readFileSync(file!, 'utf8');
  } catch (error) {
    throw new ConfigError([`${where}: cannot read the file (${errorMessage(error)})`]);
  }
}
