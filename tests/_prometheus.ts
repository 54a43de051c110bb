/**
 * Test helpers for the real Prometheus tools of Debian's packages: free ports, daemons
 * stopped at disposal, a Pushgateway, polling for an event with a deadline.
 *
 * @module
 */

/** Polls `probe` until it returns a value; fails after `ms` so a broken setup cannot hang. */
export async function until<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  ms = 60_000,
): Promise<T> {
  const deadline = performance.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const v = await probe();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (performance.now() > deadline) {
      throw new Error(`Timed out waiting for ${what}${last ? `: ${last}` : ""}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** A port free right now on 127.0.0.1. */
export function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** A server binary of the Debian packages, stopped at disposal. */
export function startDaemon(cmd: string, args: string[]): AsyncDisposable {
  const child = new Deno.Command(cmd, { args, stdout: "null", stderr: "null", stdin: "null" })
    .spawn();
  return {
    async [Symbol.asyncDispose]() {
      try {
        child.kill("SIGTERM");
      } catch {
        // Already gone.
      }
      await child.status;
    },
  };
}

/** GETs a URL and returns its body; fails on an error status. */
export async function text(url: string): Promise<string> {
  const res = await fetch(url);
  const body = await res.text();
  if (!res.ok) throw new Error(`${url}: ${res.status} ${body}`);
  return body;
}

/** A Pushgateway on a free port, ready; stopped at disposal. */
export async function startPushgateway(): Promise<AsyncDisposable & { url: string }> {
  const port = freePort();
  const daemon = startDaemon("prometheus-pushgateway", [
    `--web.listen-address=127.0.0.1:${port}`,
  ]);
  const url = `http://127.0.0.1:${port}`;
  try {
    await until("the Pushgateway", async () => (await text(`${url}/-/ready`), true));
  } catch (err) {
    await daemon[Symbol.asyncDispose]();
    throw err;
  }
  return { url, [Symbol.asyncDispose]: () => daemon[Symbol.asyncDispose]() };
}
