import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { concatBytes } from "../_test_utils.ts";
import { ByteWriter } from "./byte_writer.ts";
import { encodeRecordMessage, Info3 } from "./message.ts";
import type { Node } from "./node.ts";
import { PartitionFilter } from "./partition_filter.ts";
import { intBin, stringBin } from "./particle.ts";
import { resolveScanOptions, type ScanOptions } from "./policy.ts";
import { beginProto, endProto, ProtoType } from "./proto.ts";
import type { AerospikeRecord } from "./record.ts";
import { decodeScanRequest, encodeReply, type ScanRequest, writeReplyHeader } from "./requests.ts";
import { type ScanCluster, scanPartitions } from "./scan.ts";
import { fakeServer, readMessage } from "./_test_server.ts";
import { testNode } from "./_test_node.ts";

const PID = 1207;

function record(i: number, pid = PID): AerospikeRecord {
  const digest = new Uint8Array(20);
  digest[0] = pid & 0xff;
  digest[1] = pid >> 8;
  digest[18] = i >> 8;
  digest[19] = i & 0xff;
  return {
    namespace: "test",
    set: "s",
    digest,
    generation: 1,
    voidTime: 0,
    bins: [intBin("i", i), stringBin("pad", "x".repeat(150))],
  };
}

/** One type-3 frame holding the given messages. */
function frameOf(write: (w: ByteWriter) => void): Uint8Array {
  const w = new ByteWriter(1 << 16);
  const p = beginProto(w);
  write(w);
  endProto(w, p, ProtoType.MESSAGE);
  return w.subarray().slice();
}

function recordsFrame(records: AerospikeRecord[]): Uint8Array {
  return frameOf((w) => {
    for (const r of records) encodeRecordMessage(w, r);
  });
}

const LAST = encodeReply({ info3: Info3.LAST });

function clusterOf(node: Node): ScanCluster {
  return {
    locate: () => node,
    refresh: () => Promise.resolve(),
    poolWaitMs: 2000,
  };
}

async function scanRequest(conn: Deno.Conn): Promise<ScanRequest> {
  const m = (await readMessage(conn))!;
  return decodeScanRequest(m.subarray(8)).scan;
}

function opts(extra: Partial<ScanOptions> = {}) {
  return resolveScanOptions({
    namespace: "test",
    retryDelayMs: 1,
    socketTimeoutMs: 2000,
    ...extra,
  });
}

Deno.test("scanPartitions() reads a ~1 MiB frame in parts, records straddling parts and larger than one", async () => {
  // Records of every size around the 128 KiB read buffer, one of 300 KB, in one frame.
  const sizes = [10, 150, 100_000, 131_000, 300_000, 5, 70_000, 60_000, 200, 131_072];
  const all = sizes.map((n, i) => ({
    ...record(i),
    bins: [intBin("i", i), stringBin("pad", "y".repeat(n))],
  }));
  await using server = fakeServer(async (c) => {
    await scanRequest(c);
    const bytes = concatBytes([recordsFrame(all), LAST]);
    // Sent in odd pieces, so parts end anywhere: in a header, a size, a value.
    for (let at = 0, k = 0; at < bytes.length; k++) {
      const n = [1, 7, 4096, 65_537, 23, 200_000][k % 6];
      await c.write(bytes.subarray(at, at + n));
      at += n;
    }
  });
  const node = testNode(server.port, 4);
  const got: AerospikeRecord[] = [];
  for await (const r of scanPartitions(clusterOf(node), PartitionFilter.id(PID), opts())) {
    got.push(r);
  }
  assert.deepEqual(got.map((r) => r.bins), all.map((r) => r.bins));
  await node.close();
});

Deno.test("scanPartitions() resumes after the last digest when the connection drops mid-record", async () => {
  const requests: ScanRequest[] = [];
  const all = Array.from({ length: 10 }, (_, i) => record(i));
  await using server = fakeServer(async (c, index) => {
    requests.push(await scanRequest(c));
    if (index === 0) {
      await c.write(recordsFrame(all.slice(0, 3)));
      const f = recordsFrame(all.slice(3, 5));
      // The next frame is cut short in record 4: record 3, whole, is handed on already.
      await c.write(f.subarray(0, f.length - 30));
      return;
    }
    await c.write(recordsFrame(all.slice(4)));
    await c.write(LAST);
  });
  const node = testNode(server.port, 4);
  const filter = PartitionFilter.id(PID);
  const got: number[] = [];
  for await (const r of scanPartitions(clusterOf(node), filter, opts())) {
    got.push(Number(r.bins[0].value));
  }
  assert.deepEqual(got, [0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  assert.deepEqual(requests[0].partitions, [PID]);
  assert.equal(requests[1].partitions, undefined);
  assert.deepEqual(requests[1].digests, [all[3].digest]);
  assert.equal(filter.done, true);
  await node.close();
});

Deno.test("scanPartitions() retries only partitions reported unavailable", async () => {
  const requests: ScanRequest[] = [];
  await using server = fakeServer(async (c, index) => {
    while (true) {
      const req = await scanRequest(c).catch(() => null);
      if (req === null) return;
      requests.push(req);
      if (index === 0 && requests.length === 1) {
        await c.write(recordsFrame([record(1, 10)]));
        await c.write(
          frameOf((w) =>
            writeReplyHeader(w, { info3: Info3.PARTITION_DONE, resultCode: 11, generation: 11 })
          ),
        );
      } else {
        await c.write(recordsFrame([record(2, 11)]));
      }
      await c.write(LAST);
    }
  });
  const node = testNode(server.port, 4);
  const filter = PartitionFilter.range(10, 2);
  const got: number[] = [];
  for await (const r of scanPartitions(clusterOf(node), filter, opts())) {
    got.push(Number(r.bins[0].value));
  }
  assert.deepEqual(got, [1, 2]);
  assert.deepEqual(requests[0].partitions, [10, 11]);
  assert.deepEqual(requests[1].partitions, [11]);
  assert.equal(filter.done, true);
  assert.equal(node.pool.size, 1); // the clean connection was reused
  await node.close();
});

Deno.test("scanPartitions() fails on a malformed record, naming node and command", async () => {
  await using server = fakeServer(async (c) => {
    await scanRequest(c);
    const f = recordsFrame([record(1)]);
    f[8 + 18] = 0xff; // n_fields of the record: far more fields than bytes
    f[8 + 19] = 0xff;
    await c.write(f);
    await c.write(LAST);
  });
  const node = testNode(server.port, 4);
  await assert.rejects(
    async () => {
      for await (const _ of scanPartitions(clusterOf(node), PartitionFilter.id(PID), opts())) {
        // nothing
      }
    },
    (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "MESSAGE_INVALID");
      assert.match(e.message, /^Scan on 127\.0\.0\.1:\d+ \(node N1\) failed: invalid reply/);
      assert.equal(e.node?.name, "N1");
      return true;
    },
  );
  assert.equal(node.pool.size, 0);
  await node.close();
});

Deno.test("scanPartitions() reports a non-retriable server error with its result code", async () => {
  await using server = fakeServer(async (c) => {
    await scanRequest(c);
    await c.write(encodeReply({ info3: Info3.LAST, resultCode: 20 }));
  });
  const node = testNode(server.port, 4);
  await assert.rejects(
    async () => {
      for await (const _ of scanPartitions(clusterOf(node), PartitionFilter.all(), opts())) {
        // nothing
      }
    },
    (e: unknown) => e instanceof AerobakError && e.code === "SERVER_ERROR" && e.resultCode === 20,
  );
  await node.close();
});

Deno.test("scanPartitions() gives up after maxRetries when a node keeps timing out", async () => {
  await using server = fakeServer(async (c) => {
    await scanRequest(c);
    await c.read(new Uint8Array(1)); // say nothing until the client hangs up
  });
  const node = testNode(server.port, 4);
  await assert.rejects(
    async () => {
      const o = opts({ socketTimeoutMs: 50, maxRetries: 2 });
      for await (const _ of scanPartitions(clusterOf(node), PartitionFilter.id(PID), o)) {
        // nothing
      }
    },
    (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "MAX_RETRIES_EXCEEDED");
      assert.match(e.message, /no data for 50 ms/);
      return true;
    },
  );
  assert.equal(server.accepted, 3);
  await node.close();
});

Deno.test("scanPartitions() reads only as fast as the caller pulls, and break closes the connection", async () => {
  let written = 0;
  let serverSawClose = false;
  await using server = fakeServer(async (c) => {
    await scanRequest(c);
    const frame = recordsFrame(Array.from({ length: 5000 }, (_, i) => record(i))); // ~1 MB
    try {
      for (let i = 0; i < 400; i++) { // up to 400 MB if nothing pushed back
        await c.write(frame);
        written += frame.length;
      }
    } catch {
      serverSawClose = true;
    }
  });
  const node = testNode(server.port, 4);
  let n = 0;
  for await (const _ of scanPartitions(clusterOf(node), PartitionFilter.id(PID), opts())) {
    if (++n === 10) {
      // A slow consumer: the server must stall on a full socket meanwhile.
      await new Promise((r) => setTimeout(r, 300));
      break;
    }
  }
  assert.ok(written < 64 * 1024 * 1024, `server wrote ${written} bytes ahead of the consumer`);
  assert.equal(node.pool.size, 0);
  await server.close();
  assert.equal(serverSawClose, true);
  await node.close();
});

Deno.test("scanPartitions() stops with the abort reason and closes the connection", async () => {
  await using server = fakeServer(async (c) => {
    await scanRequest(c);
    await c.write(recordsFrame([record(1), record(2)]));
    await c.read(new Uint8Array(1)); // then nothing until the client hangs up
  });
  const node = testNode(server.port, 4);
  const ac = new AbortController();
  const seen: number[] = [];
  await assert.rejects(async () => {
    for await (
      const r of scanPartitions(
        clusterOf(node),
        PartitionFilter.id(PID),
        opts({ signal: ac.signal }),
      )
    ) {
      seen.push(Number(r.bins[0].value));
      if (seen.length === 2) setTimeout(() => ac.abort(new Error("stop now")), 10);
    }
  }, /stop now/);
  assert.deepEqual(seen, [1, 2]);
  assert.equal(node.pool.size, 0);
  await node.close();
});
