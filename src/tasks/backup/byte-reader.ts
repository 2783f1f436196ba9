// How an upload takes its bytes: read into the caller's memory as read(2) does, so a producer can fill the part being uploaded without a new buffer per chunk.

export interface ByteReader {
  /** Copies the next bytes into `into`: resolves with how many (at least one), or 0 at the end of the data. */
  read(into: Uint8Array): Promise<number>;
  /** Stops reading (the upload failed or was cut off); a pending and any later read fails with `reason`. */
  cancel(reason: Error): void;
}

/** A reader over chunks (a stream, an array of buffers): for small objects, where a chunk's allocation costs nothing. */
export function chunkReader(chunks: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): ByteReader {
  const iterator: AsyncIterator<Uint8Array> | Iterator<Uint8Array> =
    Symbol.asyncIterator in chunks ? chunks[Symbol.asyncIterator]() : chunks[Symbol.iterator]();
  let rest: Uint8Array = new Uint8Array(0);
  let cancelled: Error | undefined;
  return {
    async read(into) {
      while (rest.length === 0) {
        if (cancelled) throw cancelled;
        const next = await iterator.next();
        if (next.done) return 0;
        rest = next.value;
      }
      const n = Math.min(into.length, rest.length);
      into.set(rest.subarray(0, n));
      rest = rest.subarray(n);
      return n;
    },
    cancel(reason) {
      cancelled ??= reason;
      // As a for-await that breaks: a stream behind the iterator is destroyed.
      void Promise.resolve(iterator.return?.()).catch(() => undefined);
    },
  };
}
