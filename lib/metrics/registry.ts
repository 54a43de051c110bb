/**
 * A registry of Prometheus metrics and their text exposition format (version 0.0.4): the
 * `/metrics` page a Prometheus server scrapes and the body a Pushgateway takes.
 *
 * Metrics are collected when asked for: each collector reads the figures it reports (a
 * job's statistics) at that moment, so nothing is counted twice and the hot paths of the
 * jobs pay nothing for being watched.
 *
 * @module
 */

/** The two kinds of metric aerobak reports. */
export type MetricType = "counter" | "gauge";

/** One value of a metric, with its labels. */
export interface MetricSample {
  /** Label names and values (the registry adds its collector's constant labels). */
  labels?: Readonly<Record<string, string>>;
  /** The value. */
  value: number;
}

/** A metric: its name, help text, type and values. */
export interface MetricFamily {
  /** Name, such as `aerobak_records_read_total`. */
  name: string;
  /** One line saying what it counts, with its unit. */
  help: string;
  /** Counter (only grows) or gauge. */
  type: MetricType;
  /** Its values, one per label set. */
  samples: MetricSample[];
}

/** Reads a set of metrics at the moment of a scrape or push. */
export type MetricsCollector = () => readonly MetricFamily[];

/** Options of {@linkcode MetricsRegistry.register}. */
export interface RegisterOptions {
  /**
   * Labels added to every sample of the collector (such as a job id when several jobs
   * report into one registry).
   * @default {{}}
   */
  labels?: Readonly<Record<string, string>>;
}

/** The content type of the text exposition format. */
export const PROMETHEUS_TEXT_CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8";

const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

/**
 * The metrics of one process: collectors registered by jobs, read together.
 *
 * @example Report a figure and read the exposition
 * ```ts
 * import { MetricsRegistry } from "./registry.ts";
 * const registry = new MetricsRegistry();
 * let done = 3;
 * registry.register(() => [
 *   { name: "demo_items_total", help: "Items done.", type: "counter", samples: [{ value: done }] },
 * ]);
 * console.log(registry.exposition());
 * // # HELP demo_items_total Items done.
 * // # TYPE demo_items_total counter
 * // demo_items_total 3
 * ```
 */
export class MetricsRegistry {
  readonly #collectors = new Set<{ collect: MetricsCollector; labels: Record<string, string> }>();

  /**
   * Adds a collector.
   *
   * @param collect Reads the metrics.
   * @param options Constant labels of its samples.
   * @returns A function that removes the collector again.
   * @throws {TypeError} For a constant label name that Prometheus does not accept.
   */
  register(collect: MetricsCollector, options: RegisterOptions = {}): () => void {
    const labels = { ...options.labels };
    for (const name of Object.keys(labels)) checkLabelName(name);
    const entry = { collect, labels };
    this.#collectors.add(entry);
    return () => this.#collectors.delete(entry);
  }

  /**
   * Reads every collector. Families of the same name from several collectors are merged
   * (their types must agree).
   *
   * @returns The families, in the order first seen.
   * @throws {TypeError} For an invalid metric or label name, or one name with two types.
   */
  collect(): MetricFamily[] {
    const byName = new Map<string, MetricFamily>();
    for (const { collect, labels } of this.#collectors) {
      for (const family of collect()) {
        if (!METRIC_NAME.test(family.name)) {
          throw new TypeError(`Invalid metric name ${JSON.stringify(family.name)}`);
        }
        let merged = byName.get(family.name);
        if (merged === undefined) {
          merged = { name: family.name, help: family.help, type: family.type, samples: [] };
          byName.set(family.name, merged);
        } else if (merged.type !== family.type) {
          throw new TypeError(
            `Metric ${family.name} is reported as a ${merged.type} and as a ${family.type}`,
          );
        }
        for (const s of family.samples) {
          const all = { ...labels, ...s.labels };
          for (const name of Object.keys(all)) checkLabelName(name);
          merged.samples.push({ labels: all, value: s.value });
        }
      }
    }
    return [...byName.values()];
  }

  /**
   * The text exposition of every metric.
   *
   * @returns What `/metrics` serves.
   */
  exposition(): string {
    return formatExposition(this.collect());
  }
}

function checkLabelName(name: string): void {
  if (!LABEL_NAME.test(name) || name.startsWith("__")) {
    throw new TypeError(`Invalid label name ${JSON.stringify(name)}`);
  }
}

/**
 * Formats metric families in the text exposition format.
 *
 * @param families The families.
 * @returns The text, one `# HELP` and `# TYPE` line per family and a line per sample.
 *
 * @example
 * ```ts
 * import { formatExposition } from "./registry.ts";
 * const text = formatExposition([{
 *   name: "demo_retries_total", help: "Retries.", type: "counter",
 *   samples: [{ labels: { cause: "timeout" }, value: 2 }],
 * }]);
 * console.log(text.split("\n")[2]); // demo_retries_total{cause="timeout"} 2
 * ```
 */
export function formatExposition(families: readonly MetricFamily[]): string {
  let out = "";
  for (const f of families) {
    out += `# HELP ${f.name} ${escapeHelp(f.help)}\n# TYPE ${f.name} ${f.type}\n`;
    for (const s of f.samples) {
      const labels = Object.entries(s.labels ?? {});
      const text = labels.length === 0
        ? ""
        : `{${labels.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
      out += `${f.name}${text} ${formatValue(s.value)}\n`;
    }
  }
  return out;
}

function escapeHelp(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
}

function escapeLabel(text: string): string {
  return text.replaceAll("\\", "\\\\").replaceAll('"', '\\"').replaceAll("\n", "\\n");
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return "NaN";
  if (v === Infinity) return "+Inf";
  if (v === -Infinity) return "-Inf";
  return String(v);
}
