import { Cluster } from "../aerospike/cluster.ts";
import { encodeInfoResponse } from "../aerospike/info.ts";
import { startEmulator } from "../emulator/emulator.ts";
import { mangleReplies } from "../emulator/reply_mangler.ts";
import { rejectsCode } from "../_test_utils.ts";
import { readUdfs } from "./metadata.ts";

Deno.test("readUdfs() names the info command whose answer cannot be read", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  emu.cluster.metadata.putUdf("x.lua", btoa("return 1\n"));
  // udf-get answers without the module's content.
  mangleReplies(emu.cluster, (reply, ctx) => {
    if (ctx.kind !== "info") return null;
    const answer = new TextDecoder().decode(reply.subarray(8));
    const cmd = answer.slice(0, answer.indexOf("\t"));
    return cmd.startsWith("udf-get")
      ? { bytes: encodeInfoResponse(new Map([[cmd, "type=LUA"]])) }
      : null;
  });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  await rejectsCode(
    readUdfs(cluster, { retry: { baseTimeoutMs: 1, multiplier: 1, maxRetries: 1 } }),
    "INFO_INVALID",
    /^Info command "udf-get:filename=x\.lua" gave an answer that cannot be read: Invalid udf-get answer/,
  );
});
