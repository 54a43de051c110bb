/**
 * Getting metrics to Prometheus: a `/metrics` endpoint it scrapes while a job runs
 * ({@linkcode serveMetrics}), and a push to a Pushgateway when a batch job ends
 * ({@linkcode pushMetrics}), the usual way for jobs too short-lived to be scraped.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { type MetricsRegistry, PROMETHEUS_TEXT_CONTENT_TYPE } from "./registry.ts";

/** Options of {@linkcode serveMetrics}. */
export interface ServeMetricsOptions {
  /**
   * Address to listen on.
   * @default {"127.0.0.1"}
   */
  hostname?: string;
  /**
   * Port to listen on; 0 picks a free one (see {@linkcode MetricsServer.port}).
   * @default {0}
   */
  port?: number;
}

/** A running `/metrics` endpoint. */
export interface MetricsServer extends AsyncDisposable {
  /** The port it listens on. */
  readonly port: number;
  /** Its URL, such as `http://127.0.0.1:9464/metrics`. */
  readonly url: string;
  /** Stops listening and waits for requests being answered. */
  close(): Promise<void>;
}

/**
 * Serves a registry's metrics at `GET /metrics` (other paths answer 404).
 *
 * @param registry The metrics.
 * @param options Address and port.
 * @returns The server, listening.
 * @throws {AerobakError} `METRICS_LISTEN` naming the address when it cannot listen.
 *
 * @example
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 * import { serveMetrics } from "./http.ts";
 * const registry = new MetricsRegistry();
 * await using server = await serveMetrics(registry, { port: 0 });
 * const res = await fetch(server.url);
 * console.log(res.status, res.headers.get("content-type")); // 200 "text/plain; version=0.0.4; charset=utf-8"
 * await res.body?.cancel();
 * ```
 */
export function serveMetrics(
  registry: MetricsRegistry,
  options: ServeMetricsOptions = {},
): Promise<MetricsServer> {
  const hostname = options.hostname ?? "127.0.0.1";
  const wanted = options.port ?? 0;
  let server: Deno.HttpServer<Deno.NetAddr>;
  try {
    server = Deno.serve({ hostname, port: wanted, onListen: () => {} }, (req) => {
      const path = new URL(req.url).pathname;
      if (path !== "/metrics") {
        return new Response("Not found: metrics are at /metrics\n", { status: 404 });
      }
      if (req.method !== "GET" && req.method !== "HEAD") {
        return new Response("Method not allowed\n", { status: 405, headers: { allow: "GET" } });
      }
      let body: string;
      try {
        body = registry.exposition();
      } catch (err) {
        return new Response(`Cannot collect metrics: ${(err as Error).message}\n`, {
          status: 500,
        });
      }
      return new Response(req.method === "HEAD" ? null : body, {
        headers: { "content-type": PROMETHEUS_TEXT_CONTENT_TYPE },
      });
    });
  } catch (err) {
    const where = hostname.includes(":") ? `[${hostname}]:${wanted}` : `${hostname}:${wanted}`;
    return Promise.reject(
      new AerobakError(
        "METRICS_LISTEN",
        `Cannot serve metrics on ${where}: ${(err as Error).message}`,
        {
          cause: err,
        },
      ),
    );
  }
  const port = server.addr.port;
  const host = hostname.includes(":") ? `[${hostname}]` : hostname;
  let closed: Promise<void> | undefined;
  const close = () => closed ??= server.shutdown();
  return Promise.resolve({
    port,
    url: `http://${host === "0.0.0.0" ? "127.0.0.1" : host}:${port}/metrics`,
    close,
    [Symbol.asyncDispose]: close,
  });
}

/** Options of {@linkcode pushMetrics}. */
export interface PushMetricsOptions {
  /** The `job` label of the group (the Pushgateway's grouping key starts with it). */
  job: string;
  /**
   * More labels of the grouping key, such as `{ shard: "2" }`.
   * @default {{}}
   */
  grouping?: Readonly<Record<string, string>>;
  /**
   * `PUT` replaces every metric of the group; `POST` only those pushed (so a failed run can
   * push its figures and keep the group's last success time).
   * @default {"PUT"}
   */
  method?: "PUT" | "POST";
  /**
   * Limit of the request, ms.
   * @default {10000}
   */
  timeoutMs?: number;
}

/**
 * The URL of a Pushgateway group: `<base>/metrics/job/<job>/<label>/<value>…`. Values that
 * are empty or hold a `/` are sent base64url-encoded (`<label>@base64/<value>`), as the
 * Pushgateway takes them.
 *
 * @param base The Pushgateway's address, such as `http://pushgateway:9091`.
 * @param job The job label.
 * @param grouping More labels.
 * @returns The URL.
 *
 * @example
 * ```ts
 * import { pushGroupUrl } from "./http.ts";
 * console.log(pushGroupUrl("http://pg:9091/", "asbackup", { shard: "2" }));
 * // "http://pg:9091/metrics/job/asbackup/shard/2"
 * ```
 */
export function pushGroupUrl(
  base: string,
  job: string,
  grouping: Readonly<Record<string, string>> = {},
): string {
  let url = `${base.replace(/\/+$/, "")}/metrics`;
  for (const [name, value] of [["job", job], ...Object.entries(grouping)]) {
    url += value === "" || value.includes("/")
      ? `/${name}@base64/${base64url(value)}`
      : `/${name}/${encodeURIComponent(value)}`;
  }
  return url;
}

function base64url(text: string): string {
  const b64 = btoa(String.fromCharCode(...new TextEncoder().encode(text)));
  return b64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "") || "=";
}

/**
 * Pushes a registry's metrics to a Pushgateway group.
 *
 * @param registry The metrics.
 * @param base The Pushgateway's address, such as `http://pushgateway:9091`.
 * @param options The grouping key, method and time limit.
 * @throws {AerobakError} `METRICS_PUSH` naming the URL and the Pushgateway's answer.
 */
export async function pushMetrics(
  registry: MetricsRegistry,
  base: string,
  options: PushMetricsOptions,
): Promise<void> {
  const url = pushGroupUrl(base, options.job, options.grouping);
  const body = registry.exposition();
  let res: Response;
  try {
    res = await fetch(url, {
      method: options.method ?? "PUT",
      headers: { "content-type": PROMETHEUS_TEXT_CONTENT_TYPE },
      body,
      signal: AbortSignal.timeout(options.timeoutMs ?? 10000),
    });
  } catch (err) {
    throw new AerobakError(
      "METRICS_PUSH",
      `Cannot push metrics to ${url}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const text = await res.text();
  if (!res.ok) {
    throw new AerobakError(
      "METRICS_PUSH",
      `Cannot push metrics to ${url}: ${res.status} ${res.statusText}${
        text.trim() ? ` (${text.trim().split("\n")[0]})` : ""
      }`,
    );
  }
}
