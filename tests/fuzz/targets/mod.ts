/**
 * Every input kind of the fuzz suite, in the order the report lists them.
 *
 * To fuzz a new input (the manifests and restore state files, once they exist): write a
 * {@linkcode FuzzTarget} whose `seeds` are real samples of it and whose `run` reads them as
 * the tools do, and add it here; `deno task fuzz`, the CI budget run and the replay of
 * its regression cases under `testdata/fuzz/<name>/` then cover it.
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

/** The targets, by name. */
export const TARGETS: readonly FuzzTarget<never>[] = [
  asbTarget,
  asbxTarget,
  zstdTarget,
  aes256Target,
  zstdAes128Target,
  restoreTarget,
  wireInfoTarget,
  wireRecordTarget,
  wireScanTarget,
  wireBatchTarget,
  keysTarget,
  stateTarget,
  configTarget,
  flagsTarget,
  secretAgentTarget,
  cloudTarget,
] as FuzzTarget<never>[];
