// Decryption for restore tests: the private key (and its passphrase) from config, and streaming decryption of a backup with OpenPGP.js.
import { Readable } from 'node:stream';
import type { ReadableStream } from 'node:stream/web';
import type { PrivateKey } from 'openpgp';
import { ConfigError, errorMessage } from '../../errors.ts';
import { readKeyText, type EncryptionSettings } from './encrypt.ts';

type Env = Readonly<Record<string, string | undefined>>;

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

/** OpenPGP.js is large: loaded only by a restore test, which keeps the others' memory down. */
function loadOpenpgp() {
  return import('openpgp');
}
