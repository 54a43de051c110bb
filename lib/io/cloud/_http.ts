/**
 * Request plumbing the S3, GCS and Azure stores share: a request's time limit, answer bodies
 * that give their connection slot back when they end, and message helpers.
 *
 * @module
 */

/** The reason a request's time limit aborts it with (`name` is `TimeoutError`). */
export class RequestTimeout extends Error {
  /** The time limit, in ms. */
  readonly ms: number;

  /**
   * Creates the reason.
   *
   * @param ms The time limit that ran out, in ms.
   */
  constructor(ms: number) {
    super(`no complete answer within ${ms} ms`);
    this.name = "TimeoutError";
    this.ms = ms;
  }
}

/**
 * The time limit of one request, reading its answer included: `signal` aborts with a
 * {@linkcode RequestTimeout} after `ms`, or with the outer signal's reason when that aborts.
 *
 * @example
 * ```ts
 * import { RequestDeadline } from "./_http.ts";
 * using deadline = new RequestDeadline(1000);
 * console.assert(!deadline.signal.aborted && !deadline.timedOut);
 * ```
 */
export class RequestDeadline {
  /** Pass to `fetch`: it aborts the request and the reading of its body. */
  readonly signal: AbortSignal;
  #ctl = new AbortController();
  #timer?: ReturnType<typeof setTimeout>;
  #outer?: AbortSignal;
  #timedOut = false;
  #onOuterAbort = () => this.#ctl.abort(this.#outer?.reason);

  /**
   * Starts the clock.
   *
   * @param ms Time limit in ms; 0 for none.
   * @param outer A signal that stops the request too (the store's own).
   */
  constructor(ms: number, outer?: AbortSignal) {
    this.signal = this.#ctl.signal;
    if (ms > 0) {
      this.#timer = setTimeout(() => {
        this.#timedOut = true;
        this.#ctl.abort(new RequestTimeout(ms));
      }, ms);
    }
    if (outer?.aborted) {
      this.#ctl.abort(outer.reason);
    } else if (outer !== undefined) {
      this.#outer = outer;
      outer.addEventListener("abort", this.#onOuterAbort, { once: true });
    }
  }

  /** Whether the time limit ran out (rather than the outer signal aborting). */
  get timedOut(): boolean {
    return this.#timedOut;
  }

  /** Stops the clock and lets go of the outer signal, once the answer is read; idempotent. */
  clear(): void {
    clearTimeout(this.#timer);
    this.#outer?.removeEventListener("abort", this.#onOuterAbort);
    this.#outer = undefined;
  }

  /** Same as {@linkcode RequestDeadline.clear}, for `using`. */
  [Symbol.dispose](): void {
    this.clear();
  }
}

/** Options of {@linkcode heldBody}. */
export interface HeldBodyOptions {
  /**
   * Bytes at the start of the body to drop: a server that ignores `Range` sends the whole
   * object, of which that many bytes were read already.
   * @default {0}
   */
  skip?: number;
  /**
   * Runs once the body has ended (the slot is free by then), with the bytes received; what
   * it throws errors the stream.
   * @default {nothing}
   */
  onEnd?: (received: number) => void;
  /**
   * Turns a failed read of the body into the stream's error, given the bytes received
   * before it (skipped ones included).
   * @default {the error as it is}
   */
  mapError?: (err: unknown, received: number) => unknown;
}

/**
 * An answer's body as a stream that calls `release` (frees the connection slot and the
 * request's timer) as soon as the body ends, fails or is cancelled. Nothing is read ahead:
 * the body is read only as the stream is.
 *
 * @param res The answer, its body unread.
 * @param release Frees what the request holds; called once.
 * @param options Bytes to skip, an end check and the error mapping.
 * @returns The body's bytes after the skipped ones.
 */
export function heldBody(
  res: Response,
  release: () => void,
  options: HeldBodyOptions = {},
): ReadableStream<Uint8Array> {
  const { skip = 0, onEnd, mapError } = options;
  let held = true;
  const free = () => {
    if (!held) return;
    held = false;
    release();
  };
  if (res.body === null) free();
  const reader = (res.body ?? emptyStream()).getReader();
  let received = 0;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      for (;;) {
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (err) {
          free();
          throw mapError === undefined ? err : mapError(err, received);
        }
        if (r.done) {
          free();
          onEnd?.(received);
          controller.close();
          return;
        }
        const from = received < skip ? Math.min(skip - received, r.value.length) : 0;
        received += r.value.length;
        if (from === r.value.length) continue;
        controller.enqueue(from > 0 ? r.value.subarray(from) : r.value);
        return;
      }
    },
    async cancel(reason) {
      free();
      await reader.cancel(reason).catch(() => {});
    },
  }, { highWaterMark: 0 });
}

/**
 * A stream with no bytes.
 *
 * @returns A closed stream.
 */
export function emptyStream(): ReadableStream<Uint8Array> {
  return new ReadableStream<Uint8Array>({ start: (c) => c.close() });
}

/**
 * The body of an error answer, or `""` when it cannot be read (the status then says enough).
 *
 * @param res The answer.
 * @returns Its text.
 */
export function answerText(res: Response): Promise<string> {
  return res.text().catch(() => "");
}

/**
 * The message of a thrown value, for messages of our own.
 *
 * @param err What was thrown.
 * @returns Its message, or the value as text when it is not an `Error`.
 */
export function errorMessage(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/**
 * A URL without its query, for messages: a query can hold a capability (a GCS upload
 * session's `upload_id`, a token endpoint's parameters).
 *
 * @param url The URL.
 * @returns The URL up to its `?`.
 */
export function stripQuery(url: string): string {
  const q = url.indexOf("?");
  return q < 0 ? url : url.slice(0, q);
}
