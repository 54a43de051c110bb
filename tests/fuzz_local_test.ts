/**
 * CI budget of the fuzz suite for inputs read from bytes: backup files (ASB, ASBX, zstd,
 * AES-CTR), the restore job, keys, state files, YAML configs and command lines; and the
 * replay of their regression cases (see `tests/fuzz/ci.ts`).
 */

import { registerFuzzTests } from "./fuzz/ci.ts";
import { LOCAL_TARGETS } from "./fuzz/targets/mod.ts";

registerFuzzTests(LOCAL_TARGETS, "local");
