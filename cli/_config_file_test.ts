import assert from "node:assert/strict";
import { parseConfigFile } from "./_config_file.ts";
import { FlagError } from "./_flags.ts";
import { BACKUP_FLAGS } from "./_backup_flags.ts";
import { RESTORE_FLAGS } from "./_restore_flags.ts";

function flagError(message: RegExp) {
  return (e: unknown) => e instanceof FlagError && message.test(e.message);
}

const BACKUP_YAML = `
app:
  verbose: true
  log-json: true
cluster:
  seeds:
    - host: 10.0.0.1
      port: 3100
    - host: node2
      tls-name: tls2
      port: 4333
    - host: "::1"
  user: admin
  password: "env:PW"
  tls:
    name: tls-ctx
    cafile: /ca.pem
backup:
  namespace: test
  directory: /backups
  set-list: [a, b]
  parallel: 8
  file-limit: 100
  info-retry-multiplier: 1.5
  no-udfs: true
compression:
  compress: ZSTD
  level: 5
encryption:
  encrypt: AES128
  key-file: /key.pem
secret-agent:
  address: 127.0.0.1
  port: 3005
local:
  disk:
    buffer-size: 8
`;

Deno.test("parseConfigFile() maps the backup schema onto the flags", () => {
  const p = parseConfigFile(BACKUP_YAML, BACKUP_FLAGS, "b.yaml");
  const v = (k: string) => p.values.get(k);
  assert.equal(p.fromConfigFile, true);
  assert.equal(v("verbose"), true);
  assert.equal(v("log-json"), true);
  assert.equal(v("host"), "10.0.0.1:3100,node2:tls2:4333,[::1]");
  assert.equal(v("user"), "admin");
  assert.equal(v("password"), "env:PW");
  assert.equal(v("tls-name"), "tls-ctx");
  assert.equal(v("tls-cafile"), "/ca.pem");
  assert.equal(v("namespace"), "test");
  assert.equal(v("set-list"), "a,b");
  assert.equal(v("parallel"), 8);
  assert.equal(v("file-limit"), 100);
  assert.equal(v("info-retry-multiplier"), 1.5);
  assert.equal(v("no-udfs"), true);
  assert.equal(v("compress"), "ZSTD");
  assert.equal(v("compression-level"), 5);
  assert.equal(v("encrypt"), "AES128");
  assert.equal(v("encryption-key-file"), "/key.pem");
  assert.equal(v("sa-address"), "127.0.0.1");
  assert.equal(v("sa-port"), 3005);
  assert.equal(v("local-buffer-size"), 8);
  // Keys left out keep the flags' defaults.
  assert.equal(v("socket-timeout"), 10000);
  assert.equal(v("port"), 3000);
  assert.ok(!p.given.has("socket-timeout"));
});

Deno.test("parseConfigFile() maps the restore schema, including cloud sections", () => {
  const p = parseConfigFile(
    "restore:\n  namespace: a,b\n  directory-list: [d1, d2]\n  unique: true\n  retry-multiplier: 2\n" +
      "aws:\n  s3:\n    tier: Bulk\n",
    RESTORE_FLAGS,
    "r.yaml",
  );
  assert.equal(p.values.get("namespace"), "a,b");
  assert.equal(p.values.get("directory-list"), "d1,d2");
  assert.equal(p.values.get("unique"), true);
  assert.equal(p.values.get("retry-multiplier"), 2);
  assert.equal(p.values.get("s3-tier"), "Bulk");
});

Deno.test("parseConfigFile() refuses unknown keys naming the line", () => {
  assert.throws(
    () => parseConfigFile("backup:\n  namespace: x\n  bogus: 1\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/^Invalid config file b\.yaml:3: unknown key "backup\.bogus"$/),
  );
  assert.throws(
    () => parseConfigFile("nope: 1\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/unknown key "nope"/),
  );
  // The local section exists only for backup.
  assert.throws(
    () => parseConfigFile("local:\n  disk:\n    buffer-size: 1\n", RESTORE_FLAGS, "r.yaml"),
    flagError(/unknown key "local"/),
  );
  assert.throws(
    () => parseConfigFile("backup:\n  parallel: 1\n", RESTORE_FLAGS, "r.yaml"),
    flagError(/unknown key "backup"/),
  );
});

Deno.test("parseConfigFile() refuses values of the wrong type", () => {
  assert.throws(
    () => parseConfigFile("backup:\n  parallel: many\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/b\.yaml:2: backup\.parallel must be an integer, not "many"/),
  );
  assert.throws(
    () => parseConfigFile("backup:\n  no-udfs: yes please\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/backup\.no-udfs must be true or false/),
  );
  assert.throws(
    () => parseConfigFile("backup:\n  set-list: a\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/backup\.set-list must be a list/),
  );
  assert.throws(
    () => parseConfigFile("backup:\n  info-max-retries: -1\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/non-negative integer/),
  );
  assert.throws(
    () => parseConfigFile("cluster:\n  seeds:\n    - port: 3000\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/needs a host/),
  );
});

Deno.test("parseConfigFile() reports YAML syntax errors with the line", () => {
  assert.throws(
    () => parseConfigFile("backup:\n  namespace: [x\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/^Invalid config file b\.yaml:\d+: /),
  );
  assert.throws(
    () => parseConfigFile("backup:\n  namespace: a\n  namespace: b\n", BACKUP_FLAGS, "b.yaml"),
    flagError(/b\.yaml:3/),
  );
});

Deno.test("parseConfigFile() accepts an empty file as all defaults", () => {
  const p = parseConfigFile("", BACKUP_FLAGS, "e.yaml");
  assert.equal(p.given.size, 0);
  assert.equal(p.values.get("parallel"), 1);
});
