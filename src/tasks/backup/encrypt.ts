// OpenPGP for backups: the recipient's public key from config, streaming encryption that `gpg --decrypt` reads, and streaming decryption for restore tests.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type { Key, PrivateKey, PublicKey } from 'openpgp';
import type { ServiceConfig } from '../../config/schema.ts';
import { ConfigError, errorMessage } from '../../errors.ts';

export type EncryptionSettings = NonNullable<NonNullable<ServiceConfig['backup']>['encryption']>;

export interface RecipientKey {
  key: PublicKey;
  /** Upper-case hex fingerprint of the primary key, as gpg prints it. */
  fingerprint: string;
  userIds: string[];
}

type Env = Record<string, string | undefined>;

/** Reads and checks the armored public key named in backup.encryption; ConfigError says exactly what is wrong. */
export async function loadRecipientKey(settings: EncryptionSettings, env: Env, now: Date): Promise<RecipientKey> {
  const where = settings.publicKeyEnv
    ? `backup.encryption.publicKeyEnv (${settings.publicKeyEnv})`
    : `backup.encryption.publicKeyFile (${settings.publicKeyFile})`;
  const armored = readKeyText(where, settings.publicKeyEnv, settings.publicKeyFile, env);
  const openpgp = await loadOpenpgp();
  let key: Key;
  try {
    key = await openpgp.readKey({ armoredKey: armored });
  } catch (error) {
    throw new ConfigError([`${where}: not an armored OpenPGP public key (${errorMessage(error)})`]);
  }
  if (key.isPrivate()) throw new ConfigError([`${where}: holds a private key; give the recipient's public key only`]);
  try {
    await key.getEncryptionKey(undefined, now);
  } catch (error) {
    throw new ConfigError([`${where}: the key cannot encrypt (${errorMessage(error)}); is it expired or revoked?`]);
  }
  return { key: key as PublicKey, fingerprint: key.getFingerprint().toUpperCase(), userIds: key.getUserIDs() };
}

/** The private key (and its passphrase) named in backup.encryption, for restore tests. */
export async function loadDecryptionKey(settings: EncryptionSettings, env: Env): Promise<PrivateKey> {
  if (!settings.privateKeyEnv) {
    throw new ConfigError([
      'backup.encryption.privateKeyEnv: not set; the backups are encrypted, so the restore test needs the name of the environment variable holding the armored private key',
    ]);
  }
  const where = `backup.encryption.privateKeyEnv (${settings.privateKeyEnv})`;
  const armored = readKeyText(where, settings.privateKeyEnv, undefined, env);
  const openpgp = await loadOpenpgp();
  let key: PrivateKey;
  try {
    key = await openpgp.readPrivateKey({ armoredKey: armored });
  } catch (error) {
    throw new ConfigError([`${where}: not an armored OpenPGP private key (${errorMessage(error)})`]);
  }
  if (key.isDecrypted()) return key;
  const passphrase = settings.passphraseEnv ? env[settings.passphraseEnv] : undefined;
  if (!passphrase) {
    throw new ConfigError([
      `${where}: the key is protected by a passphrase; name the variable holding it in backup.encryption.passphraseEnv${settings.passphraseEnv ? ` (${settings.passphraseEnv} is not set)` : ''}`,
    ]);
  }
  try {
    return await openpgp.decryptKey({ privateKey: key, passphrase });
  } catch (error) {
    throw new ConfigError([
      `backup.encryption.passphraseEnv (${settings.passphraseEnv}): cannot unlock the private key (${errorMessage(error)})`,
    ]);
  }
}

/** Encrypts a byte stream to the recipient as it flows (binary OpenPGP message, no compression: pg_dump -Fc already compresses). */
export async function encryptStream(source: Readable, recipient: RecipientKey): Promise<AsyncIterable<Uint8Array>> {
  const openpgp = await loadOpenpgp();
  const message = await openpgp.createMessage({ binary: Readable.toWeb(source) as never, format: 'binary' });
  const encrypted = await openpgp.encrypt({ message, encryptionKeys: recipient.key, format: 'binary' });
  return encrypted as unknown as ReadableStream<Uint8Array>;
}

/**
 * Decrypts a byte stream as it flows. The data is released before OpenPGP's integrity check at the end of the
 * message; a failed check errors the stream, so a consumer must treat what it got as void unless the stream ended cleanly.
 */
export async function decryptStream(source: Readable, key: PrivateKey): Promise<Readable> {
  const openpgp = await loadOpenpgp();
  const message = await openpgp.readMessage({ binaryMessage: Readable.toWeb(source) as never });
  const recipients = message.getEncryptionKeyIDs().map((id) => id.toHex().toUpperCase());
  const ours = new Set(key.getKeyIDs().map((id) => id.toHex().toUpperCase()));
  if (recipients.length > 0 && !recipients.some((id) => ours.has(id))) {
    throw new Error(
      `it is encrypted to key ID ${recipients.join(', ')}, not to this private key (${key.getFingerprint().toUpperCase()})`,
    );
  }
  const { data } = await openpgp.decrypt({
    message,
    decryptionKeys: key,
    format: 'binary',
    config: { allowUnauthenticatedStream: true },
  });
  return Readable.fromWeb(data as unknown as ReadableStream<Uint8Array>);
}

/** OpenPGP.js is large: loaded only by a process that encrypts or decrypts, which keeps the others' memory down. */
function loadOpenpgp() {
  return import('openpgp');
}

function readKeyText(where: string, envName: string | undefined, file: string | undefined, env: Env): string {
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
