import assert from "node:assert/strict";
import { PartitionFilter } from "../aerospike/partition_filter.ts";
import { type BackupState, decodeBackupState, encodeBackupState } from "./state.ts";

Deno.test("decodeBackupState() round-trips encodeBackupState()", () => {
  const filter = PartitionFilter.range(0, 4);
  const state: BackupState = {
    version: 1,
    namespace: "test",
    counter: 2,
    metadataDone: true,
    readers: [{ setIndex: 1, filter: filter.toJSON() }],
    openFiles: ["0_test_3(2).asb"],
  };
  const back = decodeBackupState(encodeBackupState(state), "state.json");
  assert.deepEqual(back, JSON.parse(JSON.stringify(state)));
  assert.equal(PartitionFilter.fromJSON(back.readers[0].filter).count, 4);
});

Deno.test("decodeBackupState() names the file and the problem", () => {
  const bad = (text: string) => decodeBackupState(new TextEncoder().encode(text), "st");
  assert.throws(() => bad("{"), { code: "STATE_INVALID", message: /st: not JSON/ });
  assert.throws(() => bad('{"version":2}'), { code: "STATE_INVALID", message: /version 2/ });
  assert.throws(
    () =>
      bad(
        '{"version":1,"namespace":"t","counter":0,"metadataDone":true,"readers":[],"openFiles":[]}',
      ),
    { message: /no reader cursors/ },
  );
});

Deno.test("decodeBackupState() checks each reader's cursor, naming the file and reader", () => {
  const filter = PartitionFilter.range(10, 2).toJSON();
  const state = (f: unknown) =>
    new TextEncoder().encode(JSON.stringify({
      version: 1,
      namespace: "t",
      counter: 0,
      metadataDone: true,
      readers: [{ setIndex: 0, filter: PartitionFilter.all().toJSON() }, {
        setIndex: 0,
        filter: f,
      }],
      openFiles: [],
    }));
  assert.equal(decodeBackupState(state(filter), "st").readers.length, 2);
  assert.throws(() => decodeBackupState(state({ ...filter, count: 3 }), "st"), {
    code: "STATE_INVALID",
    message: /^Invalid backup state file st: reader 1: Invalid scan cursor: expected 3 partition/,
  });
});
