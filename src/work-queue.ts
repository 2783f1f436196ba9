// The bounded queue for work that follows a Slack ack: a few jobs of each kind at once, the rest in line, a refusal when the line is full.
import { UserError } from './errors.ts';

export interface WorkQueueOptions {
  /** Jobs of one kind running at once. */
  concurrencyOf(kind: string): number;
  /** Jobs of one kind waiting at most; one more is refused. */
  maxWaiting: number;
  /** Told when a job is refused because its line is full. */
  onRefused?: (kind: string) => void;
}

/** A place in line: 0 when a slot was free, else how many jobs of the kind are ahead. */
export interface Slot {
  readonly kind: string;
  readonly position: number;
  /** Resolves when the slot is this job's (at once for position 0); rejects when the queue closes first. */
  readonly granted: Promise<void>;
  /** Gives the slot (or the place in line) back; safe to call more than once. */
  release(): void;
}

/** The line of one kind is full: the user is told to try again instead of everyone's requests slowing down. */
export class QueueFullError extends UserError {
  constructor(kind: string, waiting: number) {
    super(
      `:no_entry: The bot already has ${waiting} \`${kind}\` requests waiting, so it did not take this one. Try again in a minute.`,
      'busy',
    );
    this.name = 'QueueFullError';
  }
}

interface Place {
  /** Set once the slot is this job's: releasing then frees the slot for the next in line. */
  owns: boolean;
  grant(): void;
  refuse(reason: Error): void;
}

interface Line {
  running: number;
  waiting: Place[];
}

/**
 * Reserving is separate from running, so a request can take its place in line, tell Slack where it stands in the
 * ack, and only then start: nothing of the work runs before the ack.
 */
export class WorkQueue {
  readonly #options: WorkQueueOptions;
  readonly #lines = new Map<string, Line>();
  #closed: Error | undefined;

  constructor(options: WorkQueueOptions) {
    this.#options = options;
  }

  /** Takes a slot or a place in line; throws QueueFullError when the line is full, or the close reason once closed. */
  reserve(kind: string): Slot {
    if (this.#closed) throw this.#closed;
    const line = this.#line(kind);
    if (line.running < Math.max(1, this.#options.concurrencyOf(kind)) && line.waiting.length === 0) {
      line.running += 1;
      return this.#slot(kind, 0, Promise.resolve(), () => this.#finish(line));
    }
    if (line.waiting.length >= this.#options.maxWaiting) {
      this.#options.onRefused?.(kind);
      throw new QueueFullError(kind, line.waiting.length);
    }
    const place: Place = { owns: false, grant: () => undefined, refuse: () => undefined };
    const granted = new Promise<void>((resolve, reject) => {
      place.grant = () => {
        place.owns = true;
        // Started on the next turn of the event loop: requests that arrived meanwhile are read (and acked) before it,
        // rather than a finished job handing the loop straight to the next one in line.
        setImmediate(resolve);
      };
      place.refuse = reject;
    });
    // A refused place is handled by whoever awaits it; nobody may be awaiting yet.
    granted.catch(() => undefined);
    line.waiting.push(place);
    return this.#slot(kind, line.waiting.length, granted, () => {
      if (place.owns) return this.#finish(line);
      // Left the line before its turn (or was refused at shutdown): just step out.
      const index = line.waiting.indexOf(place);
      if (index !== -1) line.waiting.splice(index, 1);
    });
  }

  /** Jobs of `kind` running and waiting. */
  depth(kind: string): { running: number; waiting: number } {
    const line = this.#lines.get(kind);
    return { running: line?.running ?? 0, waiting: line?.waiting.length ?? 0 };
  }

  /** Every kind seen so far, with its jobs running and waiting: read by the /metrics gauges at each scrape. */
  *depths(): Generator<[kind: string, depth: { running: number; waiting: number }]> {
    for (const [kind, line] of this.#lines) yield [kind, { running: line.running, waiting: line.waiting.length }];
  }

  /** Shutdown: nothing new is taken, and every job still in line is refused with `reason` (running ones finish). */
  close(reason: Error): void {
    this.#closed = reason;
    for (const line of this.#lines.values()) for (const place of line.waiting.splice(0)) place.refuse(reason);
  }

  #slot(kind: string, position: number, granted: Promise<void>, release: () => void): Slot {
    let released = false;
    return {
      kind,
      position,
      granted,
      release: () => {
        if (released) return;
        released = true;
        release();
      },
    };
  }

  /** A running job ended: its slot goes to the first in line. */
  #finish(line: Line): void {
    const next = line.waiting.shift();
    if (next) next.grant();
    else line.running -= 1;
  }

  #line(kind: string): Line {
    let line = this.#lines.get(kind);
    if (!line) {
      line = { running: 0, waiting: [] };
      this.#lines.set(kind, line);
    }
    return line;
  }
}
