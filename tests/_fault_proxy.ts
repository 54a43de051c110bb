/**
 * A TCP proxy on a loopback port that passes HTTP/1.1 traffic to a server unchanged and
 * injects the network faults real users meet between aerobak and an object store, whatever
 * the server behind it: an answer cut off part-way (a ranged read that stops midway) and an
 * answer lost after the server acted on the request (an upload whose success never arrives).
 *
 * Bytes pass as they are, so signatures over the `Host` header still verify. Requests are
 * recognised by their request line (`METHOD /path HTTP/1.1`) in what the client sends; an
 * HTTP client sends a request only after it has read the previous answer on that
 * connection, so the bytes the server sends after a request line are that request's answer.
 *
 * @module
 */

/** A request the proxy saw: its request line and the headers that came with it. */
export interface ProxiedRequest {
  /** `GET`, `PUT`, … */
  method: string;
  /** Path and query as sent (percent-encoded). */
  target: string;
  /** The head's text (request line and headers, as far as they arrived in one read). */
  head: string;
}

/** A fault armed for the next request whose head matches. */
interface Fault {
  match: (r: ProxiedRequest) => boolean;
  /** Answer bytes let through before the connection is closed (0: the answer is lost). */
  keepBytes: number;
  /** Runs before the connection is closed (while the client still waits). */
  before: () => Promise<void>;
  fired: PromiseWithResolvers<ProxiedRequest>;
}

/** A running proxy. */
export interface FaultProxy extends AsyncDisposable {
  /** `http://127.0.0.1:<port>`: use it in place of the server's URL (its path kept). */
  url: string;
  /** Every request seen, in order. */
  requests: ProxiedRequest[];
  /**
   * Lets the next matching request's answer through up to `keepBytes` bytes (its head
   * included), then runs `before` and closes the connection.
   *
   * @param match Which request.
   * @param keepBytes Bytes of the answer the client gets.
   * @param before What to do while the client waits for the rest (change the object).
   * @returns Resolves with the request once the connection is cut.
   */
  cutAnswer(
    match: (r: ProxiedRequest) => boolean,
    keepBytes: number,
    before?: () => Promise<void>,
  ): Promise<ProxiedRequest>;
  /**
   * Loses the next matching request's answer: the server gets the whole request and
   * answers, the client sees the connection close without an answer.
   *
   * @param match Which request.
   * @returns Resolves with the request once its answer was dropped.
   */
  loseAnswer(match: (r: ProxiedRequest) => boolean): Promise<ProxiedRequest>;
}

const REQUEST_LINE = /(GET|PUT|POST|DELETE|HEAD|PATCH) (\S+) HTTP\/1\.1\r\n/g;

/**
 * Starts a proxy to `upstream`.
 *
 * @param upstream The server's URL (`http://127.0.0.1:port`, any path is ignored).
 * @returns The running proxy.
 */
export function startFaultProxy(upstream: string): FaultProxy {
  const target = new URL(upstream);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const pumps = new Set<Promise<void>>();
  const requests: ProxiedRequest[] = [];
  const faults: Fault[] = [];

  const closeQuietly = (c: Deno.Conn) => {
    if (!conns.delete(c)) return;
    try {
      c.close();
    } catch { /* already closed */ }
  };

  async function serve(client: Deno.Conn): Promise<void> {
    let server: Deno.Conn;
    try {
      server = await Deno.connect({ hostname: target.hostname, port: Number(target.port) });
    } catch {
      closeQuietly(client);
      return;
    }
    conns.add(server);
    /** The fault armed for the answer now coming on this connection. */
    let armed: { fault: Fault; request: ProxiedRequest; sent: number } | undefined;
    let tail = "";
    const up = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await client.read(buf).catch(() => null);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        // A request line starts a read or a line, and may straddle two reads: look at the
        // end of the last read too.
        const text = tail + latin1(chunk);
        for (const m of text.matchAll(REQUEST_LINE)) {
          const start = m.index;
          const lineStart = start === tail.length || text.startsWith("\r\n", start - 2);
          if (!lineStart || start + m[0].length <= tail.length) continue;
          const end = text.indexOf("\r\n\r\n", start);
          const request = {
            method: m[1],
            target: m[2],
            head: text.slice(start, end < 0 ? undefined : end),
          };
          requests.push(request);
          // The answer of the request armed before was shorter than its cut: its fault
          // waits for the next request it matches.
          if (armed !== undefined) faults.push(armed.fault);
          armed = undefined;
          const i = faults.findIndex((f) => f.match(request));
          if (i >= 0) armed = { fault: faults.splice(i, 1)[0], request, sent: 0 };
        }
        tail = text.slice(-512);
        if (!(await writeAll(server, chunk))) break;
      }
      closeQuietly(server);
    })();
    const down = (async () => {
      const buf = new Uint8Array(64 * 1024);
      for (;;) {
        const n = await server.read(buf).catch(() => null);
        if (n === null) break;
        const chunk = buf.subarray(0, n);
        const a = armed;
        if (a !== undefined) {
          const room = a.fault.keepBytes - a.sent;
          if (room < chunk.length) {
            if (room > 0) await writeAll(client, chunk.subarray(0, room));
            armed = undefined;
            await a.fault.before();
            closeQuietly(client);
            closeQuietly(server);
            a.fault.fired.resolve(a.request);
            break;
          }
          a.sent += chunk.length;
        }
        if (!(await writeAll(client, chunk))) break;
      }
      closeQuietly(client);
    })();
    await Promise.all([up, down]);
  }

  const accepting = (async () => {
    for (;;) {
      let c: Deno.Conn;
      try {
        c = await listener.accept();
      } catch {
        return;
      }
      conns.add(c);
      const p = serve(c).finally(() => pumps.delete(p));
      pumps.add(p);
    }
  })();

  function arm(
    match: (r: ProxiedRequest) => boolean,
    keepBytes: number,
    before: () => Promise<void>,
  ): Promise<ProxiedRequest> {
    const fired = Promise.withResolvers<ProxiedRequest>();
    // A fault that never fires rejects when the proxy stops, awaited or not.
    fired.promise.catch(() => {});
    faults.push({ match, keepBytes, before, fired });
    return fired.promise;
  }

  const { port } = listener.addr as Deno.NetAddr;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    cutAnswer: (match, keepBytes, before = () => Promise.resolve()) =>
      arm(match, Math.max(1, keepBytes), before),
    loseAnswer: (match) => arm(match, 0, () => Promise.resolve()),
    async [Symbol.asyncDispose]() {
      listener.close();
      await accepting;
      for (const c of [...conns]) closeQuietly(c);
      await Promise.all(pumps);
      for (const f of faults) f.fired.reject(new Error("the proxy stopped before the fault fired"));
    },
  };
}

/** Bytes as Latin-1 text: one character per byte, so offsets match. */
function latin1(bytes: Uint8Array): string {
  let s = "";
  for (let i = 0; i < bytes.length; i += 8192) {
    s += String.fromCharCode(...bytes.subarray(i, i + 8192));
  }
  return s;
}

/** Writes every byte; `false` when the peer has gone. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<boolean> {
  let off = 0;
  while (off < bytes.length) {
    const n = await conn.write(bytes.subarray(off)).catch(() => null);
    if (n === null) return false;
    off += n;
  }
  return true;
}
