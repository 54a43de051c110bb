import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import {
  checkDcName,
  mrtWritesCommand,
  parseXdrStats,
  stopXdrAll,
  unblockMrtAll,
  xdrCommand,
  xdrCreateCommands,
  type XdrInfoClient,
} from "./commands.ts";

/** A client whose nodes answer from a table (unknown commands: the server's error). */
function tableClient(answers: Record<string, Record<string, string>>): XdrInfoClient & {
  sent: string[];
} {
  const sent: string[] = [];
  return {
    sent,
    nodes: Object.keys(answers).map((name) => ({
      name,
      address: `${name}:3000`,
      build: "8.1.2.0",
    })),
    info(commands, opts) {
      const table = answers[opts?.node ?? ""];
      if (table === undefined) {
        return Promise.reject(new AerobakError("NODE_NOT_FOUND", `no node ${opts?.node}`));
      }
      return Promise.resolve(
        new Map(commands.map((c) => {
          sent.push(`${opts?.node} ${c}`);
          return [c, table[c] ?? "ERROR:4:unrecognized command"];
        })),
      );
    },
  };
}

Deno.test("xdrCreateCommands() orders DC, connector, address, throughput, namespace, forward", () => {
  assert.deepEqual(
    xdrCreateCommands({
      dc: "bk",
      hostPort: "10.0.0.5:8080",
      namespace: "test",
      rewind: "3600",
      maxThroughput: 500,
      forward: true,
    }),
    [
      "set-config:context=xdr;dc=bk;action=create",
      "set-config:context=xdr;dc=bk;connector=true",
      "set-config:context=xdr;dc=bk;node-address-port=10.0.0.5:8080;action=add",
      "set-config:context=xdr;dc=bk;namespace=test;max-throughput=500",
      "set-config:context=xdr;dc=bk;namespace=test;action=add;rewind=3600",
      "set-config:context=xdr;dc=bk;namespace=test;forward=true",
    ],
  );
  assert.equal(
    mrtWritesCommand("test", true),
    "set-config:context=namespace;namespace=test;disable-mrt-writes=true",
  );
});

Deno.test("checkDcName() accepts backup-go's DC names only", () => {
  assert.equal(checkDcName("dc_1-$x"), "dc_1-$x");
  for (const bad of ["", "a b", "x".repeat(32), "dc;action=delete"]) {
    assert.throws(
      () => checkDcName(bad),
      (e: unknown) => (e as AerobakError).code === "CONFIG_INVALID",
    );
  }
});

Deno.test("parseXdrStats() reads lag and recoveries", () => {
  assert.deepEqual(
    parseXdrStats("lag=3;in_queue=0;recoveries=4096;recoveries_pending=12;hot_keys=0"),
    { lag: 3, recoveries: 4096, recoveriesPending: 12 },
  );
  assert.throws(() => parseXdrStats("lag=x"), AerobakError);
});

Deno.test("xdrCommand() names node and command, and spots a vanished DC", async () => {
  const client = tableClient({
    A: {
      ok: "ok",
      gone: "ERROR::DC not found",
      ce: "ERROR:25:enterprise only",
      weird: "something ERROR happened",
    },
  });
  assert.equal(await xdrCommand(client, "ok", { node: "A" }), "ok");
  await assert.rejects(xdrCommand(client, "gone", { node: "A" }), (e: unknown) => {
    assert.equal((e as AerobakError).code, "XDR_DC_NOT_FOUND");
    return true;
  });
  await assert.rejects(xdrCommand(client, "ce", { node: "A" }), (e: unknown) => {
    const err = e as AerobakError;
    assert.equal(err.code, "XDR_COMMAND_FAILED");
    assert.equal(err.resultCode, 25);
    assert.deepEqual(err.node, { address: "A:3000", name: "A" });
    assert.match(err.message, /"ce" on node A failed: ERROR:25:enterprise only/);
    return true;
  });
  await assert.rejects(xdrCommand(client, "weird", { node: "A" }), AerobakError);
});

Deno.test("stopXdrAll() and unblockMrtAll() try every node and report failures", async () => {
  const del = "set-config:context=xdr;dc=bk;action=delete";
  const unblock = mrtWritesCommand("test", false);
  const client = tableClient({
    A: { [del]: "ok", [unblock]: "ok" },
    B: { [del]: "ERROR::DC not found", [unblock]: "ok" },
  });
  const failed = await stopXdrAll(client, "bk");
  assert.deepEqual([...failed.keys()], ["B"]);
  assert.equal((await unblockMrtAll(client, "test")).size, 0);
  assert.equal(client.sent.length, 4);
});
