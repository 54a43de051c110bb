/**
 * CI budget of the fuzz suite for answers a peer sends: the server's info, record, scan
 * and batch replies, Secret Agent replies and cloud store responses; and the replay of
 * their regression cases (see `tests/fuzz/ci.ts`).
 */

import { registerFuzzTests } from "./fuzz/ci.ts";
import { NETWORK_TARGETS } from "./fuzz/targets/mod.ts";

registerFuzzTests(NETWORK_TARGETS, "network");
