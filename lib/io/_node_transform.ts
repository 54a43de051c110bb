/**
 * Runs a `node:zlib` stream as a web `TransformStream`.
 *
 * @module
 */

import type { Transform } from "node:stream";

/** What the bridge needs to run a node transform; see {@linkcode nodeTransformStream}. */
export interface NodeTransformHooks {
  /** Maps an error the node stream emitted to the error the web stream fails with. */
  mapError(err: Error): Error;
  /**
   * Feeds one input chunk to the node stream through `write` (resolves once the node stream
   * consumed those bytes and emitted their output). Defaults to one write of the chunk.
   */
  feed?(chunk: Uint8Array, write: (bytes: Uint8Array) => Promise<void>): Promise<void>;
  /** Sees every output chunk before it is enqueued. */
  onOutput?(bytes: Uint8Array): void;
  /** Called before the node stream is ended; may throw to fail the stream. */
  beforeEnd?(): void;
}

/**
 * Wraps a node `Transform` (a zlib stream) in a web `TransformStream`.
 *
 * Each web chunk is awaited until the node stream has consumed it, so backpressure holds:
 * output produced for one input chunk is enqueued before the next chunk is written.
 *
 * @param node The node stream; it is destroyed when the web stream errors or is cancelled.
 * @param hooks Error mapping, input splitting and output tap.
 * @returns A transform stream producing the node stream's output.
 */
export function nodeTransformStream(
  node: Transform,
  hooks: NodeTransformHooks,
): TransformStream<Uint8Array, Uint8Array> {
  let failure: Error | undefined;
  const waiters = new Set<(err: Error) => void>();
  node.on("error", (err: Error) => {
    failure ??= hooks.mapError(err);
    for (const reject of waiters) reject(failure);
    waiters.clear();
  });

  /** Resolves when `start` calls its `done`, rejects when the node stream fails first. */
  function guarded(start: (done: () => void) => void): Promise<void> {
    if (failure) return Promise.reject(failure);
    return new Promise<void>((resolve, reject) => {
      waiters.add(reject);
      start(() => {
        waiters.delete(reject);
        if (failure) reject(failure);
        else resolve();
      });
    });
  }

  const write = (bytes: Uint8Array) => guarded((done) => node.write(bytes, () => done()));

  return new TransformStream<Uint8Array, Uint8Array>({
    start(controller) {
      node.on("data", (b: Uint8Array) => {
        // zlib hands out fresh Buffers: re-view them as plain Uint8Array without copying.
        const bytes = new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
        hooks.onOutput?.(bytes);
        controller.enqueue(bytes);
      });
    },
    async transform(chunk) {
      if (chunk.length === 0) return;
      try {
        if (hooks.feed) await hooks.feed(chunk, write);
        else await write(chunk);
      } catch (err) {
        node.destroy();
        throw err;
      }
    },
    async flush() {
      try {
        hooks.beforeEnd?.();
        await guarded((done) => {
          node.once("end", done);
          node.end();
        });
      } catch (err) {
        node.destroy();
        throw err;
      }
    },
    cancel() {
      node.destroy();
    },
  });
}
