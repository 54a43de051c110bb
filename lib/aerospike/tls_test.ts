import assert from "node:assert/strict";
import { startEmulator } from "../emulator/mod.ts";
import { AerobakError } from "../errors.ts";
import { Cluster } from "./cluster.ts";
import { Connection, readLimits } from "./connection.ts";
import { PartitionFilter } from "./partition_filter.ts";
import { loadTlsContext, parseTlsProtocols } from "./tls.ts";

const dir = new URL("./testdata/tls/", import.meta.url).pathname;
const read = (name: string) => Deno.readTextFileSync(dir + name);

function tlsConfig(e: unknown, pattern: RegExp): boolean {
  assert.ok(e instanceof AerobakError, String(e));
  assert.equal(e.code, "TLS_CONFIG");
  assert.match(e.message, pattern);
  return true;
}

Deno.test("parseTlsProtocols() reads Apache SSLProtocol lists", () => {
  assert.deepEqual(parseTlsProtocols("+TLSv1.2"), { minVersion: "TLSv1.2", maxVersion: "TLSv1.2" });
  assert.deepEqual(parseTlsProtocols("all"), { minVersion: "TLSv1.2", maxVersion: "TLSv1.3" });
  assert.deepEqual(parseTlsProtocols("all -TLSv1.2"), {
    minVersion: "TLSv1.3",
    maxVersion: "TLSv1.3",
  });
  assert.deepEqual(parseTlsProtocols("TLSv1.2 TLSv1.3"), {
    minVersion: "TLSv1.2",
    maxVersion: "TLSv1.3",
  });
  assert.throws(() => parseTlsProtocols("+TLSv1 +TLSv1.1"), (e) => tlsConfig(e, /neither/));
  assert.throws(
    () => parseTlsProtocols("+SSLv3"),
    (e) => tlsConfig(e, /Unknown TLS protocol "\+SSLv3"/),
  );
});

Deno.test("loadTlsContext() reads files, b64: and env-b64: values and CA directories", async () => {
  const ca = read("ca.pem");
  const a = await loadTlsContext({ enabled: true, caFile: dir + "ca.pem" });
  assert.deepEqual(a.ca, [ca]);
  const b = await loadTlsContext({ enabled: true, caFile: "b64:" + btoa(ca) });
  assert.deepEqual(b.ca, [ca]);
  Deno.env.set("AEROBAK_TEST_CA", btoa(ca));
  const c = await loadTlsContext({ enabled: true, caFile: "env-b64:AEROBAK_TEST_CA" });
  assert.deepEqual(c.ca, [ca]);
  const d = await loadTlsContext({ enabled: true, caPath: dir });
  assert.equal(d.ca.length, 3); // ca.pem, client.pem, server.pem
  await assert.rejects(
    loadTlsContext({ enabled: true, caFile: dir + "missing.pem" }),
    (e) => tlsConfig(e, /missing\.pem/),
  );
});

Deno.test("loadTlsContext() decrypts an encrypted key and refuses a wrong password", async () => {
  const ctx = await loadTlsContext({
    enabled: true,
    certFile: dir + "client.pem",
    keyFile: dir + "client.enc.key",
    keyPassword: "secret",
  });
  assert.match(ctx.key!, /BEGIN PRIVATE KEY/);
  await assert.rejects(
    loadTlsContext({
      enabled: true,
      certFile: dir + "client.pem",
      keyFile: dir + "client.enc.key",
      keyPassword: "bad",
    }),
    (e) => tlsConfig(e, /client\.enc\.key.*password/),
  );
  await assert.rejects(
    loadTlsContext({ enabled: true, certFile: dir + "client.pem" }),
    (e) => tlsConfig(e, /needs a key/),
  );
});

/** A TLS front for a plain TCP port (the emulator speaks plain TCP). */
function tlsProxy(targetPort: number) {
  const listener = Deno.listenTls({
    hostname: "127.0.0.1",
    port: 0,
    cert: read("server.pem"),
    key: read("server.key"),
  });
  const pipes: Promise<unknown>[] = [];
  const loop = (async () => {
    for await (const tls of listener) {
      pipes.push((async () => {
        try {
          await tls.handshake();
          const tcp = await Deno.connect({ hostname: "127.0.0.1", port: targetPort });
          await Promise.allSettled([
            tls.readable.pipeTo(tcp.writable),
            tcp.readable.pipeTo(tls.writable),
          ]);
        } catch {
          try {
            tls.close();
          } catch {
            // closed
          }
        }
      })());
    }
  })();
  return {
    port: (listener.addr as Deno.NetAddr).port,
    async close() {
      listener.close();
      await loop.catch(() => {});
      await Promise.allSettled(pipes);
    },
  };
}

Deno.test("Cluster.connect() over TLS verifies the seed's TLS name while dialling its IP", async () => {
  await using emu = await startEmulator({ nodes: 1, users: { admin: "pw" } });
  for (let i = 0; i < 20; i++) emu.put({ namespace: "test", key: i, bins: { a: i } });
  const proxy = tlsProxy(emu.hosts[0].port);
  try {
    const tls = { enabled: true, caFile: dir + "ca.pem" };
    {
      await using cluster = await Cluster.connect({
        hosts: `127.0.0.1:aero-node:${proxy.port}`,
        tls,
        user: "admin",
        password: "pw",
        tendIntervalMs: 50,
      });
      let n = 0;
      for await (const _ of cluster.scan(PartitionFilter.all(), { namespace: "test" })) n++;
      assert.equal(n, 20);
      // A few tends over TLS keep the node (peers-tls-std errors on CE are not failures).
      for (let i = 0; i < 3; i++) await cluster.refresh();
      assert.equal(cluster.nodes.length, 1);
    }
    await assert.rejects(
      Cluster.connect({
        hosts: `127.0.0.1:other-name:${proxy.port}`,
        tls,
        user: "admin",
        password: "pw",
      }),
      (e: unknown) => {
        assert.ok(e instanceof AerobakError);
        assert.equal(e.code, "CLUSTER_UNREACHABLE");
        assert.match(e.message, /other-name|certificate/);
        return true;
      },
    );
    await assert.rejects(
      Cluster.connect({ hosts: `127.0.0.1:aero-node:${proxy.port}`, tls: { enabled: true } }),
      (e: unknown) => e instanceof AerobakError && e.code === "CLUSTER_UNREACHABLE",
      "without our CA the certificate is refused",
    );
  } finally {
    await proxy.close();
  }
});

const hasOpenssl = await new Deno.Command("openssl", {
  args: ["version"],
  stdout: "null",
  stderr: "null",
})
  .output().then((o) => o.success, () => false);

Deno.test({
  name: "Connection.open() presents the client certificate for mutual TLS",
  ignore: !hasOpenssl,
  fn: async () => {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = (probe.addr as Deno.NetAddr).port;
    probe.close();
    const server = new Deno.Command("openssl", {
      args: [
        "s_server",
        "-accept",
        String(port),
        "-cert",
        dir + "server.pem",
        "-key",
        dir + "server.key",
        "-CAfile",
        dir + "ca.pem",
        "-Verify",
        "1",
        "-verify_return_error",
        "-rev",
        "-naccept",
        "2",
      ],
      stdout: "piped",
      stderr: "null",
      stdin: "null",
    }).spawn();
    try {
      const reader = server.stdout.getReader();
      let out = "";
      while (!out.includes("ACCEPT")) out += new TextDecoder().decode((await reader.read()).value);
      reader.releaseLock();
      const host = { name: "127.0.0.1", port, tlsName: "aero-node" };
      const withCert = await loadTlsContext({
        enabled: true,
        caFile: dir + "ca.pem",
        certFile: dir + "client.pem",
        keyFile: dir + "client.enc.key",
        keyPassword: "secret",
      });
      const conn = await Connection.open(host, { timeoutMs: 5000, tls: withCert });
      // s_server -rev answers each line reversed: 8 bytes make a proto header of a type-1 frame.
      await conn.write(
        new TextEncoder().encode("\x00\x00\x00\x00\x00\x00\x01\x02\n"),
        readLimits(5000, 0),
      );
      const f = await conn.read(readLimits(5000, 0));
      assert.equal(f.type, 1);
      conn.close();
      const noCert = await loadTlsContext({ enabled: true, caFile: dir + "ca.pem" });
      await assert.rejects(async () => {
        const c = await Connection.open(host, { timeoutMs: 5000, tls: noCert });
        try {
          await c.write(new TextEncoder().encode("ping\n"), readLimits(5000, 0));
          await c.read(readLimits(5000, 0));
        } finally {
          c.close();
        }
      }, (e: unknown) => e instanceof AerobakError);
    } finally {
      try {
        server.kill();
      } catch {
        // exited
      }
      await server.status;
      await server.stdout.cancel().catch(() => {});
    }
  },
});
