/**
 * The metrics flags of both tools: `--metrics-addr host:port` serves Prometheus metrics at
 * `/metrics` while the run lasts, `--metrics-push URL` pushes the final figures to a
 * Pushgateway when it ends (success or failure), grouped by `job` (`--metrics-job`) and,
 * for a sharded run, `shard`.
 *
 * @module
 */

import type { ShardSpec } from "../lib/backup/shards.ts";
import {
  type JobSource,
  type MetricsCollector,
  MetricsRegistry,
  type MetricsServer,
  pushMetrics,
  serveMetrics,
} from "../lib/metrics/mod.ts";
import type { JobStatus } from "../lib/pipeline/job.ts";
import { errorText } from "./_cli.ts";
import { str } from "./_common_options.ts";
import { FlagError, type FlagSpec, type ParsedFlags } from "./_flags.ts";
import type { Logger } from "./_report.ts";

const GROUP = "Metrics Flags";

/** The metrics flags, the same in both tools. */
export const METRICS_FLAGS: readonly FlagSpec[] = [
  {
    long: "metrics-addr",
    type: "string",
    default: "",
    group: GROUP,
    help: "Serve Prometheus metrics at http://<host:port>/metrics while the job runs\n" +
      "(:port listens on every interface).",
    valueName: "host:port",
    yaml: "metrics.addr",
  },
  {
    long: "metrics-push",
    type: "string",
    default: "",
    group: GROUP,
    help: "Push the final metrics to this Prometheus Pushgateway when the job ends,\n" +
      "success or failure (grouped by job and, with --shards, shard).",
    valueName: "URL",
    yaml: "metrics.push",
  },
  {
    long: "metrics-job",
    type: "string",
    default: "",
    group: GROUP,
    help: "The job label of pushed metrics. Default: the program name.",
    valueName: "name",
    yaml: "metrics.job",
  },
];

/**
 * Parses `--metrics-addr`.
 *
 * @param text `host:port`, `[ipv6]:port` or `:port`.
 * @returns Hostname and port.
 * @throws {FlagError} naming the value and the expected form.
 */
export function parseMetricsAddr(text: string): { hostname: string; port: number } {
  const m = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]]*)):(\d{1,5})$/.exec(text);
  const port = m ? Number(m[3]) : NaN;
  if (m === null || port > 65535) {
    throw new FlagError(
      `invalid value "${text}" for --metrics-addr: expected host:port (port 0 to 65535)`,
    );
  }
  const hostname = m[1] ?? (m[2] === "" ? "0.0.0.0" : m[2]);
  return { hostname, port };
}

interface Push {
  url: string;
  job: string;
  grouping: Record<string, string>;
}

/** A run's metrics: its registry, the endpoint and the push at the end. */
export class CliMetrics {
  /** The registry the run reports into. */
  readonly registry: MetricsRegistry = new MetricsRegistry();
  readonly #push?: Push;
  readonly #log: Logger;
  #server?: MetricsServer;
  #outcome?: "done" | "failed";

  private constructor(log: Logger, push: Push | undefined) {
    this.#log = log;
    this.#push = push;
  }

  /**
   * Starts a run's metrics from its flags: listens when `--metrics-addr` is set.
   *
   * @param flags The parsed flags.
   * @param log The logger (the endpoint's address is logged at info level).
   * @param program `asbackup` or `asrestore`: the default job label.
   * @param shard The shard, for the push's grouping key.
   * @returns The metrics, or `undefined` when no metrics flag is set.
   * @throws {FlagError} for a malformed address or URL.
   * @throws {AerobakError} `METRICS_LISTEN` when the address cannot be listened on.
   */
  static async start(
    flags: ParsedFlags,
    log: Logger,
    program: string,
    shard: ShardSpec | undefined,
  ): Promise<CliMetrics | undefined> {
    const addr = str(flags, "metrics-addr");
    const pushUrl = str(flags, "metrics-push");
    if (addr === "" && pushUrl === "") return undefined;
    const listen = addr === "" ? undefined : parseMetricsAddr(addr);
    let push: Push | undefined;
    if (pushUrl !== "") {
      if (!/^https?:\/\/[^/?#]+/i.test(pushUrl) || !URL.canParse(pushUrl)) {
        throw new FlagError(
          `invalid value "${pushUrl}" for --metrics-push: expected the http(s) URL of a Pushgateway`,
        );
      }
      const grouping: Record<string, string> = shard ? { shard: String(shard.index) } : {};
      push = { url: pushUrl, job: str(flags, "metrics-job") || program, grouping };
    }
    const metrics = new CliMetrics(log, push);
    if (listen) {
      metrics.#server = await serveMetrics(metrics.registry, listen);
      log.info("serving metrics", { url: metrics.#server.url });
    }
    return metrics;
  }

  /**
   * Reports a job: its figures are read at each scrape and at the push.
   *
   * @param collector The job's collector (`backupMetrics` or `restoreMetrics` of a
   *   {@linkcode CliMetrics.source}).
   */
  watch(collector: MetricsCollector): void {
    this.registry.register(collector);
  }

  /**
   * A job source whose status is the run's: running until {@linkcode CliMetrics.finish}
   * says how it ended (a run may fail before its job starts, or after it ends).
   *
   * @param stats Reads the run's statistics so far.
   * @returns The source.
   */
  source<S>(stats: () => S): JobSource<S> {
    const status = () => this.#outcome ?? "running";
    return {
      get status(): JobStatus {
        return status();
      },
      stats,
    };
  }

  /**
   * Ends the run's metrics: pushes the final figures (`PUT` after a success; `POST` after
   * a failure, which keeps the group's last success time) and stops the endpoint. A push
   * that fails is logged; it does not change the run's outcome.
   *
   * @param ok Whether the run succeeded.
   */
  async finish(ok: boolean): Promise<void> {
    this.#outcome = ok ? "done" : "failed";
    if (this.#push) {
      try {
        await pushMetrics(this.registry, this.#push.url, {
          job: this.#push.job,
          grouping: this.#push.grouping,
          method: ok ? "PUT" : "POST",
        });
      } catch (err) {
        this.#log.error("metrics push failed", { error: errorText(err) });
      }
    }
    await this.#server?.close();
  }
}
