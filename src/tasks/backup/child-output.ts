// A child's standard output read into one reused buffer: the child writes to a loopback socket of our own, read with `onread`.
// A pipe from spawn hands over every chunk in a new buffer. V8 frees those only once 64 MiB more have been allocated outside
// its heap, so at pg_dump's rate a backup carried up to 64 MiB of dead chunks: most of its peak memory (#17).
import net, { type AddressInfo, type Socket } from 'node:net';
import { errorMessage } from '../../errors.ts';
import type { ByteReader } from './byte-reader.ts';

const READ_BUFFER_BYTES = 128 * 1024;
// Connecting to ourselves on loopback takes microseconds; this only bounds a broken network stack.
const CONNECT_LIMIT_MS = 10_000;

export interface ChildOutput {
  /** The child's end: give it to spawn as stdout, then call handedOver(). */
  childEnd: Socket;
  /** What the child writes, read into one buffer that is reused. */
  reader: ByteReader;
  /** Closes this process's copy of the child's end, so the reader sees the end of the data when the child exits. */
  handedOver(): void;
  /** Stops reading and frees both ends; safe to call more than once. */
  close(): void;
}

/**
 * A connected socket pair on 127.0.0.1. Our end is identified by its port, so a local process that connects to the
 * listening port first is refused, never handed the child's output.
 */
export async function openChildOutput(): Promise<ChildOutput> {
  const server = net.createServer({ pauseOnConnect: true });
  const accepted: Socket[] = [];
  let onAccepted = () => {};
  server.on('connection', (socket) => {
    accepted.push(socket);
    onAccepted();
  });
  const ours = socketReader();
  let timer: NodeJS.Timeout | undefined;
  try {
    const childEnd = await new Promise<Socket>((resolve, reject) => {
      timer = setTimeout(() => reject(new Error(`no connection within ${CONNECT_LIMIT_MS} ms`)), CONNECT_LIMIT_MS);
      server.once('error', reject);
      ours.socket.once('error', reject);
      const match = () => {
        if (ours.socket.localPort === undefined) return;
        const own = accepted.find(
          (socket) => socket.remotePort === ours.socket.localPort && socket.remoteAddress === ours.socket.localAddress,
        );
        if (own) resolve(own);
      };
      onAccepted = match;
      server.listen(0, '127.0.0.1', () => {
        const { port } = server.address() as AddressInfo;
        ours.socket.connect(port, '127.0.0.1', match);
      });
    });
    for (const socket of accepted) if (socket !== childEnd) socket.destroy();
    // pg_dump writes in small blocks: Nagle's algorithm would hold each behind the last one's acknowledgement.
    childEnd.setNoDelay(true);
    return {
      childEnd,
      reader: ours.reader,
      handedOver: () => childEnd.destroy(),
      close() {
        childEnd.destroy();
        ours.reader.cancel(new Error('the output was closed'));
      },
    };
  } catch (error) {
    ours.socket.destroy();
    for (const socket of accepted) socket.destroy();
    throw new Error(`cannot open a loopback socket for a child's output: ${errorMessage(error)}`, { cause: error });
  } finally {
    clearTimeout(timer);
    server.close();
  }
}

/** A socket read with `onread` into one buffer; reading pauses until every byte of it was taken. */
function socketReader(): { socket: Socket; reader: ByteReader } {
  const buffer = Buffer.allocUnsafe(READ_BUFFER_BYTES);
  // The bytes of the last read not yet taken.
  let start = 0;
  let end = 0;
  let paused = false;
  let ended = false;
  let failure: Error | undefined;
  let waiting: { into: Uint8Array; resolve(n: number): void; reject(error: Error): void } | undefined;

  const take = (into: Uint8Array): number => {
    const n = Math.min(into.length, end - start);
    into.set(buffer.subarray(start, start + n));
    start += n;
    if (start === end && paused) {
      paused = false;
      socket.resume();
    }
    return n;
  };
  const fail = (error: Error) => {
    failure ??= error;
    const waiter = waiting;
    waiting = undefined;
    waiter?.reject(failure);
  };

  const socket = new net.Socket({
    onread: {
      buffer,
      callback(n: number) {
        start = 0;
        end = n;
        const waiter = waiting;
        waiting = undefined;
        if (waiter) waiter.resolve(take(waiter.into));
        // The next read lands in the same buffer: read on only once this one was taken.
        paused = start < end;
        return !paused;
      },
    },
  });
  // Flowing, so that the end of the data is reported ('end'); with onread the bytes themselves never come as 'data'.
  socket.resume();
  socket.on('end', () => {
    ended = true;
    const waiter = waiting;
    waiting = undefined;
    waiter?.resolve(0);
  });
  socket.on('error', fail);
  socket.on('close', () => {
    if (!ended) fail(new Error('the connection closed before the end of the data'));
  });

  const reader: ByteReader = {
    read(into) {
      if (failure) return Promise.reject(failure);
      if (start < end) return Promise.resolve(take(into));
      if (ended) return Promise.resolve(0);
      return new Promise((resolve, reject) => {
        waiting = { into, resolve, reject };
      });
    },
    cancel(reason) {
      fail(reason);
      socket.destroy();
    },
  };
  return { socket, reader };
}
