/**
 * aerobak's S3, Azure Blob and GCS stores held to implementations we did not write: each
 * check runs against the independent servers (s3rver, Azurite) and against aerobak's own
 * fakes, with the provider's official SDK as the second opinion on the bytes and listings.
 *
 * - a backup aerobak wrote into the store, listed and downloaded with the SDK, is byte for
 *   byte the same backup written to a local directory;
 * - objects the SDK uploaded (one put, and in parts: multipart upload, blocks, resumable
 *   chunks) under a prefix with spaces and non-ASCII characters, among more objects than one
 *   listing page holds, are listed as the SDK lists them and restored by aerobak;
 * - through a proxy that injects network faults: a download cut midway resumes where it
 *   stopped; an upload part whose answer is lost is sent again and the object is whole; an
 *   object replaced while it is read fails the read clearly, with no byte of the new
 *   version; a wrong secret is one clear error, not retried.
 */

import assert from "node:assert/strict";
import { main as backupMain } from "../cli/asbackup.ts";
import { main as restoreMain } from "../cli/asrestore.ts";
import { AerobakError } from "../lib/errors.ts";
import { ObjectStoreWriter, resumableRead } from "../lib/io/object_store.ts";
import { withTempDir } from "../lib/_test_utils.ts";
import { type CloudTarget, TARGETS } from "./_cloud_targets.ts";
import { assertSameRecords } from "./_restore_helpers.ts";
import { assertSameBytes, blobCluster, cliRun, clusterIo, pseudoRandom } from "./_cloud_e2e.ts";

/** Parts of 1 MiB (5 MiB, the least S3 takes), two at once where the store allows it. */
const UPLOAD_FLAGS: Record<CloudTarget["provider"], string[]> = {
  s3: ["--s3-chunk-size", "5", "--s3-upload-concurrency", "2"],
  azure: ["--azure-block-size", "1", "--azure-upload-concurrency", "2"],
  gcs: ["--gcp-chunk-size", "1"],
};

const MiB = 1024 * 1024;

async function readAll(stream: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

async function listed(target: CloudTarget, prefix: string) {
  return await Array.fromAsync(target.store().list(prefix));
}

/** Runs `fn` on every item, `limit` at a time. */
async function eachLimited<T>(items: T[], limit: number, fn: (t: T) => Promise<void>) {
  let next = 0;
  const worker = async () => {
    while (next < items.length) await fn(items[next++]);
  };
  await Promise.all(Array.from({ length: limit }, worker));
}

for (const { name, start } of TARGETS) {
  Deno.test({
    name: `${name}: aerobak and the official SDK agree on backups, listings, faults`,
    // The SDKs keep pooled sockets and timers of their own past a test.
    sanitizeOps: false,
    sanitizeResources: false,
    fn: async (t) => {
      await using target = await start();
      await using emu = await blobCluster(4000, ["r1"]);
      await withTempDir(async (tmp) => {
        const local = `${tmp}/local`;
        const prefix = "aerobak check/ü dir/";
        const hosts = ["-h", emu.seeds, "-n", "test", "-w", "2"];
        await cliRun(backupMain, [...hosts, "-d", local], clusterIo(emu));
        const localFiles = (await Array.fromAsync(Deno.readDir(local))).map((e) => e.name).sort();
        assert.ok(localFiles.length >= 2, `${localFiles}`);
        const localBytes = new Map<string, Uint8Array>();
        for (const f of localFiles) localBytes.set(f, await Deno.readFile(`${local}/${f}`));
        // The data files (not the small manifest beside them) go up in several parts.
        const dataFiles = [...localBytes].filter(([f]) => f.endsWith(".asb"));
        assert.ok(dataFiles.length >= 2, `${localFiles}`);
        assert.ok(
          dataFiles.every(([, b]) => b.length > 2 * MiB),
          `every data file is uploaded in several parts: ${
            dataFiles.map(([f, b]) => `${f} ${b.length}`)
          }`,
        );

        await t.step("a backup read back with the SDK is byte for byte the local one", async () => {
          await cliRun(backupMain, [
            ...hosts,
            "-d",
            prefix,
            ...target.flags(),
            ...UPLOAD_FLAGS[target.provider],
          ], clusterIo(emu));
          const sdkList = await target.sdk.list(prefix);
          assert.deepEqual(
            sdkList.map((o) => [o.key, o.size]),
            localFiles.map((f) => [`${prefix}${f}`, localBytes.get(f)!.length]),
          );
          for (const f of localFiles) {
            assertSameBytes(await target.sdk.get(`${prefix}${f}`), localBytes.get(f)!, f);
          }
          assert.deepEqual(await listed(target, prefix), sdkList);
          if (target.provider === "s3") {
            // The endpoint override addresses the bucket path-style: /<bucket>/<key>.
            const bucket = /--s3-bucket-name,([^,]+)/.exec(target.flags().join())![1];
            const virtual = target.proxy.requests.filter((r) => !r.target.startsWith(`/${bucket}`));
            assert.deepEqual(virtual.map((r) => r.target), []);
          }
        });

        await t.step(
          "objects the SDK uploaded, past one listing page, are listed alike and restored",
          async () => {
            const dir = "sdk uploads/Grüße & co/";
            const [first, ...rest] = localFiles;
            await target.sdk.put(`${dir}${first}`, localBytes.get(first)!);
            for (const f of rest) {
              await target.sdk.putInParts(`${dir}${f}`, localBytes.get(f)!, MiB);
            }
            // More objects than a page holds, sorted before the backup files, and one file a
            // level down that is not part of this directory.
            const pads = Array.from(
              { length: target.pageSize + 1 },
              (_, i) => `${dir}-pad ${String(i).padStart(5, "0")} é.txt`,
            );
            await eachLimited(pads, 16, (k) => target.sdk.put(k, new TextEncoder().encode(k)));
            await target.sdk.put(`${dir}deeper/${first}`, localBytes.get(first)!);
            const sdkList = await target.sdk.list(dir);
            assert.equal(sdkList.length, pads.length + localFiles.length);
            assert.deepEqual(await listed(target, dir), sdkList);
            await cliRun(restoreMain, [
              "-h",
              emu.seeds,
              "-n",
              "test,r1",
              "-d",
              dir,
              ...target.flags(),
            ], clusterIo(emu));
            assertSameRecords(emu, "test", "r1");
          },
        );

        const key = `${prefix}${localFiles[0]}`;
        const original = localBytes.get(localFiles[0])!;

        await t.step("a download cut midway resumes from the byte it reached", async () => {
          const before = target.proxy.requests.length;
          const cut = target.proxy.cutAnswer((r) => target.isRead(r, key), 700_000);
          const bytes = await readAll(resumableRead(target.store(), key, { initialBackoffMs: 1 }));
          await cut;
          assertSameBytes(bytes, original, key);
          const reads = target.proxy.requests.slice(before).filter((r) => target.isRead(r, key));
          assert.equal(reads.length, 2, reads.map((r) => r.head).join("\n\n"));
          assert.match(reads[1].head, /\r\n(x-ms-)?range: bytes=[1-9]\d*-\r?\n?/i);
        });

        await t.step(
          "an upload part whose answer is lost is sent again; the object is whole",
          async () => {
            let lost = false;
            target.proxy.loseAnswer((r) => target.isLaterPart(r)).then(() => lost = true);
            const data = pseudoRandom(3 * MiB + 12345, 7);
            const writer = new ObjectStoreWriter(target.store(), "lost answers", {
              partSize: MiB,
              uploadConcurrency: 2,
            });
            const sink = (await writer.open("one.asb")).getWriter();
            for (let off = 0; off < data.length; off += 100_000) {
              await sink.write(data.slice(off, off + 100_000));
            }
            await sink.close();
            assert.ok(lost, "an answer was lost");
            assertSameBytes(
              await target.sdk.get("lost answers/one.asb"),
              data,
              "lost answers/one.asb",
            );
          },
        );

        await t.step(
          "an object replaced during a read fails it clearly; no versions mix",
          async () => {
            const changing = "changing/during read.asb";
            const v1 = pseudoRandom(2 * MiB, 1);
            const v2 = pseudoRandom(2 * MiB, 2);
            await target.sdk.put(changing, v1);
            const replaced = target.proxy.cutAnswer(
              (r) => target.isRead(r, changing),
              500_000,
              () => target.sdk.put(changing, v2),
            );
            const reader = resumableRead(target.store(), changing, { initialBackoffMs: 1 })
              .getReader();
            const got: Uint8Array[] = [];
            let failure: unknown;
            try {
              for (;;) {
                const r = await reader.read();
                if (r.done) break;
                got.push(r.value);
              }
            } catch (err) {
              failure = err;
            }
            await replaced;
            assert.ok(failure instanceof AerobakError, `the read ended with ${failure}`);
            assert.equal(failure.code, "STORAGE_READ", failure.message);
            assert.match(failure.message, /changed/);
            assert.doesNotMatch(failure.message, /\n/);
            const bytes = await readAll(new Blob(got as BlobPart[]).stream());
            assert.ok(bytes.length < v1.length);
            assert.deepEqual(
              bytes,
              v1.subarray(0, bytes.length),
              "only bytes of the first version",
            );
          },
        );

        if (target.provider !== "gcs") {
          await t.step(`a wrong ${target.wrong} is one clear error, not retried`, async () => {
            const before = target.proxy.requests.length;
            const err = await Array.fromAsync(target.store("wrong").list(prefix)).then(
              () => undefined,
              (e) => e,
            );
            assert.ok(err instanceof AerobakError, String(err));
            assert.equal(err.code, "STORAGE_AUTH", err.message);
            assert.doesNotMatch(err.message, /\n/);
            assert.equal(target.proxy.requests.length - before, 1, "one request");
          });
        }
      });
    },
  });
}
