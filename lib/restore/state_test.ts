import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import type { StorageWriter } from "../io/storage.ts";
import { ManualClock } from "../pipeline/clock.ts";
import { parseRestoreState, type RestoreState, RestoreTracker } from "./state.ts";

/** A storage keeping small files in memory, counting atomic writes. */
function memoryStorage(): StorageWriter & { files: Map<string, Uint8Array>; writes: number } {
  const files = new Map<string, Uint8Array>();
  const s = {
    kind: "directory" as const,
    files,
    writes: 0,
    open(): Promise<WritableStream<Uint8Array>> {
      throw new Error("not used");
    },
    writeAtomic(name: string, bytes: Uint8Array) {
      s.writes++;
      files.set(name, bytes.slice());
      return Promise.resolve();
    },
    readBack(name: string) {
      const b = files.get(name);
      if (b === undefined) {
        return Promise.reject(new AerobakError("STORAGE_NOT_FOUND", `no ${name}`));
      }
      return Promise.resolve(b);
    },
    remove(name: string) {
      files.delete(name);
      return Promise.resolve();
    },
    describe: (name: string) => `/mem/${name}`,
  };
  return s;
}

const FILES = [{ name: "a.asb", path: "/mem/a.asb", size: 100 }, {
  name: "b.asb",
  path: "/mem/b.asb",
  size: 200,
}];

function saved(storage: { files: Map<string, Uint8Array> }): RestoreState {
  return parseRestoreState(storage.files.get("r.state")!, "r.state");
}

/** A token of file `slot` ending at `end`, passed through the registrar. */
function token(tracker: RestoreTracker, slot: number, end: number): object {
  const t = { kind: "record", file: slot, end };
  tracker.registrar<object>().process(t);
  return t;
}

Deno.test("RestoreTracker saves, per file, the end of the longest acknowledged prefix", async () => {
  const storage = memoryStorage();
  const clock = new ManualClock();
  const tracker = await RestoreTracker.open(storage, "r.state", {
    continue: false,
    files: FILES,
    clock,
  });
  assert.deepEqual(saved(storage).backup.files, [{ name: "a.asb", size: 100 }, {
    name: "b.asb",
    size: 200,
  }]);
  const a = tracker.startFile("a.asb")!;
  assert.deepEqual(a, { slot: 0, skipTo: 0 });
  const t10 = token(tracker, a.slot, 10);
  const t20 = token(tracker, a.slot, 20);
  // 30 was dropped by a processor: never registered.
  const t40 = token(tracker, a.slot, 40);
  tracker.hold(t10);
  tracker.hold(t20);
  const first = tracker.seal();
  tracker.hold(t40);
  const second = tracker.seal();
  // The later batch first: nothing before it is acknowledged yet.
  tracker.release(second);
  await tracker.save();
  assert.deepEqual(saved(storage).offsets, {});
  tracker.release(first);
  await tracker.save();
  assert.deepEqual(saved(storage).offsets, { "a.asb": 40 });
  assert.deepEqual(saved(storage).done, []);
  // Read to its end, every entity acknowledged: done, saved at once.
  const writes = storage.writes;
  tracker.fileRead(a.slot);
  await clock.advance(0);
  assert.ok(storage.writes > writes);
  assert.deepEqual(saved(storage).done, ["a.asb"]);
  assert.deepEqual(saved(storage).offsets, {});
  await tracker.finish();
  assert.equal(storage.files.has("r.state"), false);
});

Deno.test("RestoreTracker saves every interval while something was acknowledged, and on close", async () => {
  const storage = memoryStorage();
  const clock = new ManualClock();
  const tracker = await RestoreTracker.open(storage, "r.state", {
    continue: false,
    files: FILES,
    clock,
    intervalMs: 1000,
  });
  const b = tracker.startFile("b.asb")!;
  const t = token(tracker, b.slot, 55);
  const idle = storage.writes;
  await clock.advance(1000);
  assert.equal(storage.writes, idle, "nothing new: no save");
  tracker.hold(t);
  tracker.release(tracker.seal());
  await clock.advance(1000);
  assert.equal(storage.writes, idle + 1);
  assert.deepEqual(saved(storage).offsets, { "b.asb": 55 });
  // An index or UDF applied on its own.
  const meta = token(tracker, b.slot, 80);
  tracker.acked(meta);
  await tracker.close();
  assert.deepEqual(saved(storage).offsets, { "b.asb": 80 });
});

Deno.test("RestoreTracker --continue skips files done and resumes the others from their offsets", async () => {
  const storage = memoryStorage();
  const first = await RestoreTracker.open(storage, "r.state", { continue: false, files: FILES });
  const a = first.startFile("a.asb")!;
  const t = token(first, a.slot, 100);
  first.hold(t);
  first.release(first.seal());
  first.fileRead(a.slot);
  const b = first.startFile("b.asb")!;
  const u = token(first, b.slot, 30);
  first.hold(u);
  first.release(first.seal());
  await first.close();

  const again = await RestoreTracker.open(storage, "r.state", { continue: true, files: FILES });
  assert.deepEqual(again.doneFiles, ["a.asb"]);
  assert.equal(again.startFile("a.asb"), null);
  assert.deepEqual(again.startFile("b.asb"), { slot: 0, skipTo: 30 });
  await again.close();
  // Nothing new acknowledged: the offset stays.
  assert.deepEqual(saved(storage).offsets, { "b.asb": 30 });
});

Deno.test("RestoreTracker refuses the state of another backup or namespace mapping, naming what differs", async () => {
  const storage = memoryStorage();
  const t = await RestoreTracker.open(storage, "r.state", {
    continue: false,
    files: FILES,
    namespace: { source: "test", destination: "bar" },
  });
  await t.close();
  const cases: [Parameters<typeof RestoreTracker.open>[2], RegExp][] = [
    [{
      continue: true,
      files: FILES.slice(0, 1),
      namespace: { source: "test", destination: "bar" },
    }, /it lists b\.asb, which this backup does not have/],
    [{
      continue: true,
      files: [...FILES, { name: "c.asb", path: "c", size: 1 }],
      namespace: { source: "test", destination: "bar" },
    }, /this backup has c\.asb, which it does not list/],
    [{
      continue: true,
      files: [FILES[0], { ...FILES[1], size: 7 }],
      namespace: { source: "test", destination: "bar" },
    }, /b\.asb had 200 bytes, it has 7 now/],
    [{ continue: true, files: FILES }, /namespace mapping test,bar, this run asks for none/],
  ];
  for (const [options, why] of cases) {
    await assert.rejects(RestoreTracker.open(storage, "r.state", options), (e: AerobakError) => {
      assert.equal(e.code, "STATE_INVALID");
      assert.match(e.message, why);
      assert.match(e.message, /\/mem\/r\.state/);
      return true;
    });
  }
  await assert.rejects(
    RestoreTracker.open(memoryStorage(), "r.state", { continue: true, files: FILES }),
    /Cannot continue the restore from \/mem\/r\.state: no such state file/,
  );
  assert.throws(() => parseRestoreState(new TextEncoder().encode("[1"), "x"), /x: not JSON/);
  assert.throws(
    () => parseRestoreState(new TextEncoder().encode('{"format":"other"}'), "x"),
    /format "other", expected "aerobak-restore-state"/,
  );
});
