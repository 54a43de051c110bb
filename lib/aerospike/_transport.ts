/**
 * The byte pipe under a connection: plain TCP here, TLS in `tls.ts`. Every read and write
 * carries a time limit; when it passes, the pipe is closed (which is the only way to stop a
 * pending socket read in Deno) and the call rejects with a {@linkcode TransportTimeout}.
 *
 * @module
 */

/** A duplex byte pipe whose reads and writes have time limits. */
export interface Transport {
  /**
   * Reads into `p`.
   *
   * @param p Where to put the bytes.
   * @param timeoutMs Limit in ms (> 0).
   * @returns Bytes read, or `null` at end of stream.
   */
  read(p: Uint8Array, timeoutMs: number): Promise<number | null>;
  /**
   * Writes all of `p`.
   *
   * @param p The bytes.
   * @param timeoutMs Limit in ms (> 0).
   */
  write(p: Uint8Array, timeoutMs: number): Promise<void>;
  /** Closes the pipe; pending reads and writes reject. Safe to call twice. */
  close(): void;
  /** Whether {@linkcode Transport.close} was called or the pipe failed. */
  readonly closed: boolean;
}

/** Thrown by a transport when a read or write limit passed; the transport is closed. */
export class TransportTimeout extends Error {
  /**
   * @param timeoutMs The limit that passed.
   */
  constructor(readonly timeoutMs: number) {
    super(`Timed out after ${timeoutMs} ms`);
    this.name = "TransportTimeout";
  }
}

/** A {@linkcode Transport} over a Deno TCP connection. */
export class TcpTransport implements Transport {
  #conn: Deno.Conn;
  #closed = false;

  /** @param conn An open TCP connection, owned from now on. */
  constructor(conn: Deno.Conn) {
    this.#conn = conn;
  }

  /** Whether the transport is closed. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Reads into `p` within `timeoutMs`; `null` at end of stream. */
  read(p: Uint8Array, timeoutMs: number): Promise<number | null> {
    return this.#withDeadline(timeoutMs, async () => {
      const n = await this.#conn.read(p);
      if (n === null) this.close();
      return n;
    });
  }

  /** Writes all of `p` within `timeoutMs`. */
  write(p: Uint8Array, timeoutMs: number): Promise<void> {
    return this.#withDeadline(timeoutMs, async () => {
      let off = 0;
      while (off < p.length) off += await this.#conn.write(p.subarray(off));
    });
  }

  /**
   * Runs one socket operation; closing the connection is the only way to stop it when
   * the limit passes, and any failure leaves the connection closed.
   */
  async #withDeadline<T>(timeoutMs: number, op: () => Promise<T>): Promise<T> {
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      this.close();
    }, timeoutMs);
    try {
      return await op();
    } catch (err) {
      this.close();
      if (timedOut) throw new TransportTimeout(timeoutMs);
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  /** Closes the connection. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#conn.close();
    } catch {
      // Already closed by the peer or the runtime: nothing left to release.
    }
  }
}

/**
 * Opens a plain TCP transport.
 *
 * @param hostname Host name or address (IPv6 without brackets).
 * @param port Port.
 * @param timeoutMs Connect time limit.
 * @returns The transport.
 * @throws {TransportTimeout} When the limit passes; other errors as Deno throws them.
 */
export async function connectTcp(
  hostname: string,
  port: number,
  timeoutMs: number,
): Promise<Transport> {
  const signal = AbortSignal.timeout(timeoutMs);
  try {
    const conn = await Deno.connect({ hostname, port, signal });
    conn.setNoDelay(true);
    conn.setKeepAlive(true);
    return new TcpTransport(conn);
  } catch (err) {
    if (signal.aborted) throw new TransportTimeout(timeoutMs);
    throw err;
  }
}
