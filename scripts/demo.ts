/**
 * Demo (`deno task demo`): starts a 3-node emulated cluster, seeds 10,000 sample records
 * of varied types (integers with int64 edges, floats, strings, blobs, booleans, lists,
 * key-ordered maps, GeoJSON; some with a TTL, some without a stored key, a few without a
 * set), prints the seeds and the record counts per namespace, set and node, then stops.
 *
 * @module
 */

import { floatBin, geoJsonBin } from "../lib/aerospike/particle.ts";
import { encodeInfoRequest, parseInfoResponse, parseKeyValues } from "../lib/aerospike/info.ts";
import { type Emulator, startEmulator } from "../lib/emulator/emulator.ts";

const SETS = ["users", "orders", "events", ""];

/**
 * Seeds `count` sample records into a namespace.
 *
 * @param emu The emulator.
 * @param namespace Namespace.
 * @param count Number of records. @default 10_000
 */
export function seedSampleRecords(emu: Emulator, namespace: string, count = 10_000): void {
  for (let i = 0; i < count; i++) {
    const set = SETS[i % SETS.length];
    emu.put({
      namespace,
      set,
      key: i % 5 === 0 ? `user-${i}` : i,
      sendKey: i % 7 !== 0,
      ttl: i % 10 === 0 ? 86_400 : 0,
      generation: 1 + (i % 4),
      bins: {
        id: i,
        edge: i % 2 === 0 ? 2n ** 63n - 1n : -(2n ** 63n),
        score: floatBin("score", i % 3 === 0 ? 1.0 : i / 7),
        name: `name ${i} ✓`,
        raw: new Uint8Array([i & 0xff, (i >> 8) & 0xff, 0, 255]),
        active: i % 2 === 0,
        tags: ["t" + (i % 10), i, i % 3 === 0 ? null : 1.5],
        profile: { city: `city ${i % 50}`, visits: i % 100, nested: { ok: true } },
        where: geoJsonBin("where", `{"type":"Point","coordinates":[${i % 180},${i % 90}]}`),
      },
    });
  }
}

async function objectsPerNode(emu: Emulator, namespace: string): Promise<string[]> {
  const out: string[] = [];
  for (const h of emu.hosts) {
    const conn = await Deno.connect({ hostname: h.host, port: h.port });
    try {
      await conn.write(encodeInfoRequest([`namespace/${namespace}`]));
      const head = new Uint8Array(8);
      let got = 0;
      while (got < 8) got += (await conn.read(head.subarray(got))) ?? 0;
      const size = new DataView(head.buffer).getUint32(4);
      const body = new Uint8Array(size);
      got = 0;
      while (got < size) got += (await conn.read(body.subarray(got))) ?? 0;
      const stats = parseKeyValues(parseInfoResponse(body).get(`namespace/${namespace}`) ?? "");
      out.push(
        `${h.name}: ${stats.get("master_objects")} master + ${stats.get("prole_objects")} replica`,
      );
    } finally {
      conn.close();
    }
  }
  return out;
}

if (import.meta.main) {
  await using emu = await startEmulator({ nodes: 3, replicationFactor: 2 });
  seedSampleRecords(emu, "test");
  console.log(`seeds: ${emu.seeds}`);
  for (const ns of ["test", "bar"]) {
    const sets = SETS.map((s) => `${s || "(no set)"}=${emu.count(ns, s)}`);
    console.log(`namespace ${ns}: ${emu.count(ns)} records`);
    if (emu.count(ns) > 0) {
      console.log(`  sets: ${sets.join(", ")}`);
      for (const line of await objectsPerNode(emu, ns)) console.log(`  ${line}`);
    }
  }
}
