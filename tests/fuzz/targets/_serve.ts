/**
 * A loopback TCP server for the fuzz targets that play a peer (the Secret Agent, a cloud
 * store): each connection is handed to a function and closed after it, and closing the
 * server closes the connections still open.
 *
 * @module
 */

/** A running server. */
export interface FuzzServer {
  /** Its port on 127.0.0.1. */
  readonly port: number;
  /** Stops listening and closes every connection. */
  close(): Promise<void>;
}

/**
 * Starts a server on a free loopback port.
 *
 * @param handle Serves one connection; its errors (a client that left) are ignored.
 * @returns The server.
 */
export function serveFuzz(handle: (conn: Deno.Conn) => Promise<void>): FuzzServer {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const serving = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      handle(conn).catch(() => {}).finally(() => {
        conns.delete(conn);
        try {
          conn.close();
        } catch {
          // Already closed.
        }
      });
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      for (const c of conns) c.close();
      await serving.catch(() => {});
    },
  };
}
