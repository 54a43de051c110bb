/**
 * Test-only TLS material: a throw-away CA with a server and a client certificate, made
 * with the `openssl` CLI in a temporary directory (no private key is committed).
 *
 * @module
 */

import { join } from "node:path";

/** Paths and PEM texts of the certificates {@linkcode createTestCertificates} makes. */
export interface TestCertificates {
  /** Directory holding every file; remove it when done. */
  dir: string;
  /** CA certificate path. */
  caFile: string;
  /** Server certificate path (SAN: the given server name, `localhost`, `127.0.0.1`). */
  serverCertFile: string;
  /** Server private key path. */
  serverKeyFile: string;
  /** Client certificate path (for mutual TLS). */
  clientCertFile: string;
  /** Client private key path. */
  clientKeyFile: string;
  /** Server name in the server certificate. */
  serverName: string;
}

async function openssl(args: string[], cwd: string): Promise<void> {
  const out = await new Deno.Command("openssl", { args, cwd, stdout: "piped", stderr: "piped" })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")} failed: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/**
 * Creates a CA, a server certificate and a client certificate signed by it.
 *
 * @param options `serverName` (default `"sa.test"`) goes into the server certificate's SAN.
 * @returns Paths of the files, in a new temporary directory.
 * @throws {Error} When `openssl` fails or is missing.
 */
export async function createTestCertificates(
  options: { serverName?: string } = {},
): Promise<TestCertificates> {
  const serverName = options.serverName ?? "sa.test";
  const dir = await Deno.makeTempDir({ prefix: "aerobak-tls-" });
  const days = ["-days", "2"];
  await openssl([
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    "ca.key",
    "-out",
    "ca.pem",
    "-subj",
    "/CN=aerobak test CA",
    ...days,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ], dir);
  for (
    const [name, cn, ext] of [
      [
        "server",
        serverName,
        `subjectAltName=DNS:${serverName},DNS:localhost,IP:127.0.0.1\nextendedKeyUsage=serverAuth\n`,
      ],
      ["client", "aerobak test client", "extendedKeyUsage=clientAuth\n"],
    ]
  ) {
    await openssl([
      "req",
      "-newkey",
      "rsa:2048",
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      `/CN=${cn}`,
    ], dir);
    await Deno.writeTextFile(join(dir, `${name}.ext`), ext);
    await openssl([
      "x509",
      "-req",
      "-in",
      `${name}.csr`,
      "-CA",
      "ca.pem",
      "-CAkey",
      "ca.key",
      "-CAcreateserial",
      "-out",
      `${name}.pem`,
      ...days,
      "-extfile",
      `${name}.ext`,
    ], dir);
  }
  return {
    dir,
    caFile: join(dir, "ca.pem"),
    serverCertFile: join(dir, "server.pem"),
    serverKeyFile: join(dir, "server.key"),
    clientCertFile: join(dir, "client.pem"),
    clientKeyFile: join(dir, "client.key"),
    serverName,
  };
}
