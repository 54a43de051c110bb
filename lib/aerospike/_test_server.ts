/**
 * Test helper: a tiny TCP server on loopback that runs a script per connection, to feed
 * the client bad or slow bytes.
 *
 * @module
 */

/** A fake server; close it with `await using`. */
export interface FakeServer extends AsyncDisposable {
  /** Port it listens on. */
  readonly port: number;
  /** Connections accepted so far. */
  readonly accepted: number;
  /** Stops accepting and waits for the handlers. */
  close(): Promise<void>;
}

/**
 * Reads exactly one proto message (header + body) from a connection.
 *
 * @param conn The connection.
 * @returns The whole message, or null at end of stream.
 */
export async function readMessage(conn: Deno.Conn): Promise<Uint8Array | null> {
  const head = await readExactly(conn, 8);
  if (head === null) return null;
  const size = (head[4] << 24 >>> 0) + (head[5] << 16) + (head[6] << 8) + head[7];
  const body = await readExactly(conn, size);
  if (body === null) return null;
  const out = new Uint8Array(8 + size);
  out.set(head);
  out.set(body, 8);
  return out;
}

async function readExactly(conn: Deno.Conn, n: number): Promise<Uint8Array | null> {
  const out = new Uint8Array(n);
  let got = 0;
  while (got < n) {
    const r = await conn.read(out.subarray(got));
    if (r === null) return null;
    got += r;
  }
  return out;
}

/**
 * Starts a fake server.
 *
 * @param handler Runs for each accepted connection (index 0, 1, …); the connection is
 *   closed when it returns.
 * @returns The server.
 */
export function fakeServer(
  handler: (conn: Deno.Conn, index: number) => Promise<void>,
): FakeServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const handlers: Promise<void>[] = [];
  let accepted = 0;
  const loop = (async () => {
    for await (const conn of listener) {
      const index = accepted++;
      handlers.push((async () => {
        try {
          await handler(conn, index);
        } catch {
          // The client closing first is part of most tests.
        }
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      })());
    }
  })();
  let closed = false;
  const close = async () => {
    if (closed) return;
    closed = true;
    listener.close();
    await loop.catch(() => {});
    await Promise.all(handlers);
  };
  return {
    port: (listener.addr as Deno.NetAddr).port,
    get accepted() {
      return accepted;
    },
    close,
    [Symbol.asyncDispose]: close,
  };
}
