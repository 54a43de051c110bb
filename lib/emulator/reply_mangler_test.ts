import assert from "node:assert/strict";
import { Cluster } from "../aerospike/cluster.ts";
import { computeDigest, keyFromJs } from "../aerospike/digest.ts";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import type { AerospikeRecord } from "../aerospike/record.ts";
import { AerobakError } from "../errors.ts";
import { startEmulator } from "./emulator.ts";
import { mangleReplies, type ReplyContext } from "./reply_mangler.ts";

function record(i: number): AerospikeRecord {
  const key = keyFromJs(`k${i}`);
  return {
    namespace: "test",
    set: "m",
    key,
    digest: computeDigest("m", key),
    generation: 1,
    voidTime: 0,
    bins: [{ name: "i", type: 1, value: BigInt(i) }],
  };
}

const FAST = { socketTimeoutMs: 200, totalTimeoutMs: 1000 };

Deno.test("mangleReplies() shows every reply with the kind of request it answers", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  const seen: ReplyContext[] = [];
  mangleReplies(emu.cluster, (_reply, ctx) => {
    seen.push(ctx);
    return null;
  });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  const kinds = () => new Set(seen.map((c) => c.kind));
  assert.deepEqual(kinds(), new Set(["info"]));
  await cluster.put(record(1), {}, -1);
  assert.ok(await cluster.get("test", "m", record(1).key!));
  await cluster.batchWrite([record(2), record(3)], [-1, -1], {});
  for await (const _ of cluster.scan(PartitionFilter.all(), { namespace: "test" })) { /* all */ }
  assert.deepEqual(kinds(), new Set(["info", "record", "batch", "scan"]));
  assert.deepEqual(seen.filter((c) => c.kind === "record").map((c) => c.index), [0, 1]);
  assert.ok(seen.every((c) => c.node === emu.nodeNames[0]));
});

Deno.test("mangleReplies() damage reaches the client: cut, garbage, stretched in time", async () => {
  await using emu = await startEmulator({ nodes: 1 });
  emu.put(record(1));
  let damage: "cut" | "garbage" | "slow" | null = null;
  mangleReplies(emu.cluster, (reply, ctx) => {
    if (ctx.kind !== "record" || damage === null) return null;
    if (damage === "cut") return { bytes: reply.subarray(0, 10), close: true };
    if (damage === "garbage") return { bytes: reply.map((b, i) => (i < 8 ? 0xee : b)) };
    return { bytes: reply, pieces: 2, pauseMs: 400 };
  });
  await using cluster = await Cluster.connect({ hosts: emu.seeds });
  for (
    const [kind, code] of [
      ["cut", "CONNECTION_CLOSED"],
      ["garbage", "PROTO_INVALID"],
      ["slow", "SOCKET_TIMEOUT"],
    ] as const
  ) {
    damage = kind;
    await assert.rejects(cluster.get("test", "m", record(1).key!, FAST), (e: unknown) => {
      assert.ok(e instanceof AerobakError, String(e));
      assert.ok([code, "TOTAL_TIMEOUT"].includes(e.code), `${kind}: ${e.code} ${e.message}`);
      assert.ok(e.message.includes(emu.seeds), e.message);
      return true;
    });
  }
  damage = null;
  mangleReplies(emu.cluster, null);
  assert.ok(await cluster.get("test", "m", record(1).key!, FAST), "undamaged again");
});
