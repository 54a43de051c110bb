import assert from "node:assert/strict";
import { EXIT_FAILURE, EXIT_OK, startCli, VERSION } from "./_cli.ts";
import { BACKUP_FLAGS } from "./_backup_flags.ts";
import { type FakeIo, fakeIo as fakeProcess } from "./_test_io.ts";

const SPEC = { name: "asbackup", description: "Backs up.", flags: BACKUP_FLAGS };

/** A fake process whose file system holds only `files`. */
function fakeIo(files: Record<string, string> = {}): FakeIo {
  return fakeProcess({ files });
}

Deno.test("startCli() prints grouped help on --help and -Z", async () => {
  for (const flag of ["--help", "-Z"]) {
    const io = fakeIo();
    assert.equal(await startCli(SPEC, [flag], io), EXIT_OK);
    for (
      const group of [
        "General Flags:",
        "Aerospike Client Flags:",
        "Backup Flags:",
        "Compression Flags:",
        "Encryption Flags:",
        "Secret Agent Flags:",
        "Local Storage Flags:",
        "AWS Storage Flags:",
        "GCP Storage Flags:",
        "Azure Storage Flags:",
      ]
    ) {
      assert.ok(io.out.text.includes(`\n${group}\n`), group);
    }
    assert.match(io.out.text, /Usage:\n {2}asbackup \[flags\]/);
    assert.equal(io.err.text, "");
  }
});

Deno.test("startCli() prints the version", async () => {
  const io = fakeIo();
  assert.equal(await startCli(SPEC, ["-V"], io), EXIT_OK);
  assert.equal(io.out.text, `version: ${VERSION}\n`);
});

Deno.test("startCli() reports a bad flag in one line and exits 1", async () => {
  const io = fakeIo();
  assert.equal(await startCli(SPEC, ["--parallel", "lots"], io), EXIT_FAILURE);
  assert.equal(
    io.err.text,
    `Error: invalid value "lots" for --parallel: expected an integer\nRun 'asbackup --help' for usage.\n`,
  );
  const io2 = fakeIo();
  assert.equal(await startCli(SPEC, ["--log-level", "loud"], io2), EXIT_FAILURE);
  assert.match(
    io2.err.text,
    /^Error: invalid value "loud" for --log-level: expected one of debug, info, warn, error\n/,
  );
});

Deno.test("startCli() keeps the error one line when a bad value holds a newline", async () => {
  const io = fakeIo();
  const code = await startCli(SPEC, ["-n", "x", "stray\nline\u0007"], io);
  assert.equal(code, 1);
  const lines = io.err.text.trimEnd().split("\n");
  assert.equal(
    lines[0],
    'Error: unexpected argument "stray\\nline\\u0007": this command takes only flags',
  );
  assert.match(lines[1], /--help/);
  assert.equal(lines.length, 2);
});

Deno.test("startCli() takes every setting from --config and ignores other flags", async () => {
  const io = fakeIo({ "/c.yaml": "backup:\n  namespace: fromfile\n  parallel: 3\n" });
  const ctx = await startCli(SPEC, ["--config", "/c.yaml", "-n", "fromflag", "-w", "9"], io);
  assert.ok(typeof ctx !== "number");
  assert.equal(ctx.flags.values.get("namespace"), "fromfile");
  assert.equal(ctx.flags.values.get("parallel"), 3);
  const missing = fakeIo();
  assert.equal(await startCli(SPEC, ["--config", "/none.yaml"], missing), EXIT_FAILURE);
  assert.match(missing.err.text, /^Error: --config: cannot read \/none\.yaml: No such file\n/);
  const bad = fakeIo({ "/c.yaml": "backup:\n  nmespace: x\n" });
  assert.equal(await startCli(SPEC, ["--config", "/c.yaml"], bad), EXIT_FAILURE);
  assert.match(bad.err.text, /unknown key "backup\.nmespace"/);
});

Deno.test("startCli() builds the cloud store of one provider's flags and refuses two", async () => {
  const s3 = ["--s3-bucket-name", "b", "--s3-region", "eu-west-1"];
  const ctx = await startCli(SPEC, [
    "-n",
    "t",
    ...s3,
    "--s3-access-key-id",
    "k",
    "--s3-secret-access-key",
    "s",
  ], fakeIo());
  assert.ok(typeof ctx !== "number");
  assert.equal(ctx.cloud?.store.describe("d/f.asb"), "s3://b/d/f.asb");
  const none = await startCli(SPEC, ["-n", "t"], fakeIo());
  assert.ok(typeof none !== "number" && none.cloud === undefined);
  const two = fakeIo();
  assert.equal(
    await startCli(SPEC, ["-n", "t", ...s3, "--gcp-bucket-name", "g"], two),
    EXIT_FAILURE,
  );
  assert.match(
    two.err.text,
    /^Error: --gcp-bucket-name and --s3-bucket-name: only one cloud provider/,
  );
  const secret = fakeIo();
  assert.equal(
    await startCli(SPEC, ["-n", "t", ...s3, "--s3-secret-access-key", "secrets:aws:key"], secret),
    EXIT_FAILURE,
  );
  assert.match(secret.err.text, /--s3-secret-access-key "secrets:aws:key" needs a Secret Agent/);
});

Deno.test("startCli() builds the logger and the Secret Agent from flags", async () => {
  const io = fakeIo();
  const ctx = await startCli(SPEC, [
    "-v",
    "--log-level",
    "info",
    "--log-json",
    "--sa-address",
    "h",
    "--sa-port",
    "3005",
    "--sa-connection-type",
    "tcp",
  ], io);
  assert.ok(typeof ctx !== "number");
  assert.equal(ctx.log.json, true);
  assert.deepEqual(ctx.secretAgent, {
    connectionType: "tcp",
    address: "h",
    port: 3005,
    timeoutMs: 10000,
    isBase64: false,
  });
  ctx.log.info("hello");
  assert.equal(JSON.parse(io.err.text).msg, "hello");
});
