/**
 * The ASB text backup format (`.asb`) of the C asbackup and backup-go: an encoder that
 * writes either tool's style, a streaming decoder that reads both, and a validator.
 *
 * @module
 */

export * from "./encoder.ts";
export * from "./parser.ts";
export * from "./decoder.ts";
export * from "./validate.ts";
