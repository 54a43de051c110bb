/**
 * The pipeline every backup and restore job runs on: bounded channels, fan-out strategies,
 * the pipe runner, rate limits, metrics and job handles.
 *
 * @module
 */

export * from "./clock.ts";
export * from "./channel.ts";
export * from "./fanout.ts";
export * from "./pipe.ts";
export * from "./rate_limiter.ts";
export * from "./metrics.ts";
export * from "./job_counters.ts";
export * from "./progress.ts";
export * from "./job.ts";
