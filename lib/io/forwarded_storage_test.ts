import assert from "node:assert/strict";
import { WorkerChannel } from "../pipeline/worker_channel.ts";
import { describeStorage, ForwardedStorageWriter, StorageHost } from "./forwarded_storage.ts";
import { DirectoryWriter } from "./local_writer.ts";
import { withTempDir } from "../_test_utils.ts";

function wire(host: StorageHost) {
  const { port1, port2 } = new MessageChannel();
  const worker = new WorkerChannel(port1, {});
  const main = new WorkerChannel(port2, host.handlers());
  port1.onmessage = (e) => worker.receive(e.data);
  port2.onmessage = (e) => main.receive(e.data);
  return { worker, close: () => (port1.close(), port2.close()) };
}

Deno.test("ForwardedStorageWriter writes a file through the main thread's storage, byte for byte", async () => {
  await withTempDir(async (dir) => {
    const storage = new DirectoryWriter(dir);
    const { worker, close } = wire(new StorageHost(storage));
    try {
      const forwarded = new ForwardedStorageWriter(worker, describeStorage(storage));
      assert.equal(forwarded.describe("0_test_1.asb"), storage.describe("0_test_1.asb"));
      const w = (await forwarded.open("0_test_1.asb")).getWriter();
      const parts: Uint8Array<ArrayBuffer>[] = [];
      // Small and large chunks, more than the window in all, each reused by the writer.
      const chunk = new Uint8Array(300_000);
      for (let i = 0; i < 40; i++) {
        chunk.fill(i);
        const part = i % 3 === 0 ? chunk.subarray(0, 1000 + i) : chunk;
        parts.push(part.slice());
        await w.write(part);
      }
      await w.close();
      const got = await Deno.readFile(`${dir}/0_test_1.asb`);
      const expected = new Uint8Array(await new Blob(parts).arrayBuffer());
      assert.equal(got.length, expected.length);
      assert.ok(got.every((b, i) => b === expected[i]));
    } finally {
      close();
    }
  });
});

Deno.test("ForwardedStorageWriter reports the main thread's write failure, and abortAll() closes open files", async () => {
  await withTempDir(async (dir) => {
    class Full extends DirectoryWriter {
      override async open(name: string) {
        const inner = (await super.open(name)).getWriter();
        let left = 10_000;
        return new WritableStream<Uint8Array>({
          write: (c) => {
            left -= c.length;
            if (left < 0) throw new Error(`Cannot write ${name}: no space left on device`);
            return inner.write(c);
          },
          close: () => inner.close(),
          abort: (r) => inner.abort(r),
        });
      }
    }
    const host = new StorageHost(new Full(dir));
    const { worker, close } = wire(host);
    try {
      const forwarded = new ForwardedStorageWriter(worker, { prefix: `${dir}/`, suffix: "" });
      const w = (await forwarded.open("a.asb")).getWriter();
      await assert.rejects(async () => {
        for (let i = 0; i < 100; i++) await w.write(new Uint8Array(4000));
        await w.close();
      }, /no space left on device/);
      const open = (await forwarded.open("b.asb")).getWriter();
      await open.write(new Uint8Array([1, 2, 3]));
      await host.abortAll(new Error("stopped"));
    } finally {
      close();
    }
  });
});
