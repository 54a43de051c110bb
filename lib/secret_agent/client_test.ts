import assert from "node:assert/strict";
import * as net from "node:net";
import { AerobakError } from "../errors.ts";
import { rejectsCode } from "../_test_utils.ts";
import { fetchSecret } from "./client.ts";
import { SecretAgentTestServer } from "./test_server.ts";
import { createTestCertificates, type TestCertificates } from "./test_tls.ts";

const SECRETS = { vault: { pw: "s3cret", multi: "line1\nline2" } };

Deno.test("fetchSecret() reads a secret over TCP and sends Resource and SecretKey", async () => {
  await using agent = await SecretAgentTestServer.start({ secrets: SECRETS });
  assert.equal(await fetchSecret(agent.config(), { resource: "vault", key: "pw" }), "s3cret");
  assert.equal(
    await fetchSecret({ address: `127.0.0.1:${agent.port}` }, { resource: "vault", key: "multi" }),
    "line1\nline2",
  );
  assert.deepEqual(agent.requests, [{ resource: "vault", key: "pw" }, {
    resource: "vault",
    key: "multi",
  }]);
});

Deno.test("fetchSecret() reads a secret over a Unix socket", async () => {
  await using agent = await SecretAgentTestServer.start({ transport: "unix", secrets: SECRETS });
  assert.equal(
    await fetchSecret({ connectionType: "unix", address: agent.address }, {
      resource: "vault",
      key: "pw",
    }),
    "s3cret",
  );
});

Deno.test("fetchSecret() decodes base64 values only when isBase64 is set", async () => {
  await using agent = await SecretAgentTestServer.start({ secrets: SECRETS, base64: true });
  assert.equal(
    await fetchSecret({ ...agent.config(), isBase64: true }, { resource: "vault", key: "pw" }),
    "s3cret",
  );
  assert.equal(await fetchSecret(agent.config(), { resource: "vault", key: "pw" }), btoa("s3cret"));
});

Deno.test("fetchSecret() reports the agent's error, a bad magic, a short answer and a silent agent", async () => {
  {
    await using agent = await SecretAgentTestServer.start({ secrets: SECRETS });
    await rejectsCode(
      fetchSecret(agent.config(), { resource: "vault", key: "nope" }),
      "SECRET_AGENT_ERROR",
      /vault:nope.*127\.0\.0\.1:\d+.*not found/,
    );
  }
  {
    await using agent = await SecretAgentTestServer.start({
      secrets: SECRETS,
      behaviour: "bad-magic",
    });
    await rejectsCode(
      fetchSecret(agent.config(), { resource: "vault", key: "pw" }),
      "SECRET_AGENT_PROTOCOL",
      /magic number 0xae/,
    );
  }
  {
    await using agent = await SecretAgentTestServer.start({
      secrets: SECRETS,
      behaviour: "truncated",
    });
    await rejectsCode(
      fetchSecret(agent.config(), { resource: "vault", key: "pw" }),
      "SECRET_AGENT_PROTOCOL",
      /closed after 4 bytes/,
    );
  }
  {
    await using agent = await SecretAgentTestServer.start({
      secrets: SECRETS,
      behaviour: "silent",
    });
    await rejectsCode(
      fetchSecret({ ...agent.config(), timeoutMs: 200 }, { resource: "vault", key: "pw" }),
      "SECRET_AGENT_TIMEOUT",
      /within 200 ms/,
    );
  }
});

Deno.test("fetchSecret() reports an answer that is not JSON on one line", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const serving = (async () => {
    const conn = await listener.accept();
    await conn.read(new Uint8Array(1024));
    const body = new TextEncoder().encode("e\n{not json");
    const head = new Uint8Array(8);
    new DataView(head.buffer).setUint32(0, 0x51dec1cc);
    new DataView(head.buffer).setUint32(4, body.length);
    await conn.write(head);
    await conn.write(body);
    conn.close();
  })();
  const port = (listener.addr as Deno.NetAddr).port;
  await rejectsCode(
    fetchSecret({ address: "127.0.0.1", port }, { resource: "vault", key: "pw" }),
    "SECRET_AGENT_PROTOCOL",
    /^Cannot get secret vault:pw from the Secret Agent at 127\.0\.0\.1:\d+: [^\n]*\\n[^\n]*$/,
  );
  await serving;
  listener.close();
});

Deno.test("fetchSecret() reports a refused connection and a missing socket", async () => {
  const probe = net.createServer();
  await new Promise<void>((r) => probe.listen(0, "127.0.0.1", () => r()));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise<void>((r) => probe.close(() => r()));
  await rejectsCode(
    fetchSecret({ address: "127.0.0.1", port }, { resource: "r", key: "k" }),
    "SECRET_AGENT_CONNECT",
    new RegExp(`127\\.0\\.0\\.1:${port}`),
  );
  await rejectsCode(
    fetchSecret({ connectionType: "unix", address: "/nonexistent/agent.sock" }, {
      resource: "r",
      key: "k",
    }),
    "SECRET_AGENT_CONNECT",
    /unix:\/nonexistent\/agent\.sock/,
  );
});

async function withCerts(fn: (c: TestCertificates) => Promise<void>): Promise<void> {
  const certs = await createTestCertificates();
  try {
    await fn(certs);
  } finally {
    await Deno.remove(certs.dir, { recursive: true });
  }
}

Deno.test("fetchSecret() speaks TLS with a CA file, SNI name and client certificate", async () => {
  await withCerts(async (c) => {
    {
      await using agent = await SecretAgentTestServer.start({
        transport: "tls",
        secrets: SECRETS,
        tls: { certFile: c.serverCertFile, keyFile: c.serverKeyFile },
      });
      const cfg = { ...agent.config(), tlsCaFile: c.caFile, tlsName: c.serverName };
      assert.equal(await fetchSecret(cfg, { resource: "vault", key: "pw" }), "s3cret");
      await rejectsCode(
        fetchSecret({ ...cfg, tlsName: "other.test" }, { resource: "vault", key: "pw" }),
        "SECRET_AGENT_CONNECT",
        /other\.test/,
      );
      // Plain TCP to a TLS agent gets a TLS alert, not an answer.
      await rejectsCode(
        fetchSecret(agent.config(), { resource: "vault", key: "pw" }),
        "SECRET_AGENT_PROTOCOL",
        /connection closed after \d+ bytes/,
      );
    }
    {
      await using agent = await SecretAgentTestServer.start({
        transport: "tls",
        secrets: SECRETS,
        tls: {
          certFile: c.serverCertFile,
          keyFile: c.serverKeyFile,
          caFile: c.caFile,
          requireClientCert: true,
        },
      });
      const cfg = { ...agent.config(), tlsCaFile: c.caFile, tlsName: c.serverName };
      assert.equal(
        await fetchSecret({ ...cfg, certFile: c.clientCertFile, keyFile: c.clientKeyFile }, {
          resource: "vault",
          key: "pw",
        }),
        "s3cret",
      );
      await assert.rejects(fetchSecret(cfg, { resource: "vault", key: "pw" }), AerobakError);
    }
  });
});

Deno.test("fetchSecret() over TLS to an IP address checks the certificate's IP addresses", async () => {
  await withCerts(async (c) => {
    await using agent = await SecretAgentTestServer.start({
      transport: "tls",
      secrets: SECRETS,
      tls: { certFile: c.serverCertFile, keyFile: c.serverKeyFile },
    });
    // No tlsName: 127.0.0.1 is not a valid SNI name, but it is in the certificate's SAN.
    const cfg = { ...agent.config(), tlsCaFile: c.caFile };
    assert.equal(await fetchSecret(cfg, { resource: "vault", key: "pw" }), "s3cret");
    assert.equal(
      await fetchSecret({ ...cfg, tlsName: "127.0.0.1" }, { resource: "vault", key: "pw" }),
      "s3cret",
    );
    await rejectsCode(
      fetchSecret({ ...cfg, tlsName: "127.0.0.2" }, { resource: "vault", key: "pw" }),
      "SECRET_AGENT_CONNECT",
      /127\.0\.0\.2 is not in the cert's list/,
    );
  });
});
