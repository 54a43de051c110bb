/**
 * Live job metrics: records per second, bytes per second and pipeline fill.
 *
 * @module
 */

import { type Clock, systemClock } from "./clock.ts";

/** A snapshot of a running job's throughput. */
export interface Metrics {
  /** Records per second over the last sampling window. */
  recordsPerSecond: number;
  /** Bytes per second over the last sampling window. */
  bytesPerSecond: number;
  /** Fraction (0..1) of the pipeline's channel slots in use; near 1 means writers lag. */
  pipelineFill: number;
}

/** What a {@linkcode MetricsMeter} samples. */
export interface MetricsSource {
  /**
   * Counts the records.
   *
   * @returns Total records so far.
   */
  records(): number;
  /**
   * Counts the bytes.
   *
   * @returns Total bytes so far.
   */
  bytes(): number;
  /**
   * Reads the pipeline fill.
   *
   * @returns Current fill (0..1).
   */
  fill(): number;
}

/** Options of {@linkcode MetricsMeter}. */
export interface MetricsMeterOptions {
  /**
   * Time source.
   *
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Shortest window rates are computed over; samples taken sooner return the last rates.
   *
   * @default {1000}
   */
  windowMs?: number;
}

/**
 * Turns growing counters into rates.
 *
 * @example Rates from counters
 * ```ts
 * import { MetricsMeter } from "./metrics.ts";
 * import { ManualClock } from "./clock.ts";
 * const clock = new ManualClock();
 * let records = 0;
 * const meter = new MetricsMeter({ records: () => records, bytes: () => records * 100, fill: () => 0 }, { clock });
 * records = 500;
 * await clock.advance(1000);
 * console.log(meter.sample().recordsPerSecond); // 500
 * ```
 */
export class MetricsMeter {
  readonly #source: MetricsSource;
  readonly #clock: Clock;
  readonly #windowMs: number;
  #lastTime: number;
  #lastRecords: number;
  #lastBytes: number;
  #rps = 0;
  #bps = 0;

  /**
   * Creates a meter; the first window starts now.
   *
   * @param source The counters.
   * @param options Clock and window.
   */
  constructor(source: MetricsSource, options: MetricsMeterOptions = {}) {
    this.#source = source;
    this.#clock = options.clock ?? systemClock;
    this.#windowMs = options.windowMs ?? 1000;
    this.#lastTime = this.#clock.now();
    this.#lastRecords = source.records();
    this.#lastBytes = source.bytes();
  }

  /**
   * Samples the counters.
   *
   * @returns The current metrics.
   */
  sample(): Metrics {
    const now = this.#clock.now();
    const dt = now - this.#lastTime;
    if (dt >= this.#windowMs) {
      const records = this.#source.records();
      const bytes = this.#source.bytes();
      this.#rps = ((records - this.#lastRecords) * 1000) / dt;
      this.#bps = ((bytes - this.#lastBytes) * 1000) / dt;
      this.#lastTime = now;
      this.#lastRecords = records;
      this.#lastBytes = bytes;
    }
    return {
      recordsPerSecond: this.#rps,
      bytesPerSecond: this.#bps,
      pipelineFill: this.#source.fill(),
    };
  }
}
