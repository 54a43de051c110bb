/**
 * Prometheus metrics of the jobs: a registry and its text exposition, the metrics of
 * backup and restore jobs, a `/metrics` endpoint and Pushgateway pushes.
 *
 * @module
 */

export * from "./registry.ts";
export * from "./job_metrics.ts";
export * from "./http.ts";
