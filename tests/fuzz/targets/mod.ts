/**
 * Every input kind of the fuzz suite, in the order the report lists them.
 *
 * To fuzz a new input (the manifests and restore state files, once they exist): write a
 * {@linkcode FuzzTarget} whose `seeds` are real samples of it and whose `run` reads them as
 * the tools do, and add it here; `deno task fuzz`, the CI budget run and the replay of
 * its regression cases under `testdata/fuzz/<name>/` then cover it. Restore state files
 * would sit beside `state.ts` (backup state files), manifests beside `files.ts`.
 *
 * @module
 */

import type { FuzzTarget } from "../engine.ts";
import { configTarget, flagsTarget } from "./cli.ts";
import { cloudTarget } from "./cloud.ts";
import { aes256Target, asbTarget, asbxTarget, zstdAes128Target, zstdTarget } from "./files.ts";
import { keysTarget } from "./keys.ts";
import { restoreTarget } from "./restore.ts";
import { secretAgentTarget } from "./secret_agent.ts";
import { stateTarget } from "./state.ts";
import { wireBatchTarget, wireInfoTarget, wireRecordTarget, wireScanTarget } from "./wire.ts";

/** Targets of inputs read from bytes: files, keys, state files, configs, command lines. */
export const LOCAL_TARGETS: readonly FuzzTarget<never>[] = [
  asbTarget,
  asbxTarget,
  zstdTarget,
  aes256Target,
  zstdAes128Target,
  restoreTarget,
  keysTarget,
  stateTarget,
  configTarget,
  flagsTarget,
] as FuzzTarget<never>[];

/**
 * Targets of answers a peer sends over a socket (the server, the Secret Agent, cloud
 * stores): their runs mostly wait for time limits, so CI runs them beside the others.
 */
export const NETWORK_TARGETS: readonly FuzzTarget<never>[] = [
  wireInfoTarget,
  wireRecordTarget,
  wireScanTarget,
  wireBatchTarget,
  secretAgentTarget,
  cloudTarget,
] as FuzzTarget<never>[];

/** Every target, in the order the report lists them. */
export const TARGETS: readonly FuzzTarget<never>[] = [...LOCAL_TARGETS, ...NETWORK_TARGETS];
