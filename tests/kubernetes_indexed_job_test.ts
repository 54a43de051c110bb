/**
 * The Indexed Jobs of `deploy/kubernetes/` simulated on this machine: the backup CronJob's
 * pods are N `asbackup --config backup.yaml` processes (the ConfigMap's config, pointed at
 * the emulator and a fake S3 bucket) with `JOB_COMPLETION_INDEX` = 0 … N−1 and the Secret's
 * values as their environment, all writing into one key prefix; one is SIGKILLed mid-run and
 * started again as Kubernetes retries a failed index. The restore Job's pods then restore
 * one shard each, and a restore of the whole prefix follows; both must equal the source.
 */

import assert from "node:assert/strict";
import { parse, stringify } from "yaml";
import { main as restoreMain } from "../cli/asrestore.ts";
import { fakeIo } from "../cli/_test_io.ts";
import { shardPartitions } from "../lib/backup/shards.ts";
import { startS3TestServer } from "../lib/io/cloud/s3_test_server.ts";
import { addMetadata, DENO, ROOT, seeded, tempDir } from "./_backup_e2e.ts";
import { startPushgateway, text, until } from "./_prometheus.ts";
import { assertSameRecords } from "./_restore_helpers.ts";

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

/** The ConfigMap's and the Secret's content, as the pods get them. */
function deployFiles(): { configs: Record<string, string>; secret: Record<string, string> } {
  const dir = `${ROOT}deploy/kubernetes`;
  const configMap = parse(Deno.readTextFileSync(`${dir}/configmap.yaml`)) as Obj;
  const secret = parse(Deno.readTextFileSync(`${dir}/secret.yaml`)) as Obj;
  return { configs: configMap.data, secret: secret.stringData };
}

/** A pod of an Indexed Job: the tool with the config and the Secret's environment. */
function spawnPod(tool: string, config: string, index: number, env: Record<string, string>) {
  return new Deno.Command(DENO, {
    args: ["run", "-A", "--quiet", `${ROOT}cli/${tool}.ts`, "--config", config],
    cwd: ROOT,
    env: { ...env, JOB_COMPLETION_INDEX: String(index) },
    clearEnv: true,
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
}

async function podResult(
  pod: Deno.ChildProcess,
): Promise<{ code: number; signal: string | null; err: string }> {
  const out = await pod.output();
  return { code: out.code, signal: out.signal, err: new TextDecoder().decode(out.stderr) };
}

Deno.test("the backup CronJob's Indexed Job on the emulator: 4 shards into one S3 prefix, one killed and retried, then restored whole and shard by shard", async () => {
  const { configs, secret } = deployFiles();
  const backupYaml = parse(configs["backup.yaml"]) as Obj;
  const restoreYaml = parse(configs["restore.yaml"]) as Obj;
  const shards: number = backupYaml.backup.shards;
  const prefix: string = backupYaml.backup.directory;
  const bucket: string = backupYaml.aws.s3["bucket-name"];
  // The bucket the config names, taking the Secret's keys; the cluster's users, its password.
  await using s3 = await startS3TestServer({
    bucket,
    region: backupYaml.aws.s3.region,
    accessKeyId: secret.AWS_ACCESS_KEY_ID,
    secretAccessKey: secret.AWS_SECRET_ACCESS_KEY,
    minPartSize: 1,
  });
  await using emu = await seeded(0, {
    users: {
      [backupYaml.cluster.user]: secret.AEROSPIKE_PASSWORD,
      [restoreYaml.cluster.user]: secret.AEROSPIKE_PASSWORD,
    },
    namespaces: [{ name: "test", nsupPeriod: 120 }, { name: "bar", nsupPeriod: 120 }, {
      name: "baz",
      nsupPeriod: 120,
    }],
  });
  // Incompressible values (the config compresses with zstd), so files fill up.
  const blob = new Uint8Array(3000);
  let x = 2463534242;
  for (let i = 0; i < 6000; i++) {
    for (let j = 0; j < blob.length; j++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      blob[j] = x & 255;
    }
    emu.put({
      namespace: "test",
      set: i % 2 ? "odd" : "even",
      key: i,
      bins: { b: blob.slice(), i },
    });
  }
  addMetadata(emu);
  await using pushgateway = await startPushgateway();
  await using work = await tempDir();

  // The ConfigMap's configs, pointed at this machine: the emulator's nodes, the fake S3
  // endpoint, metrics on a free port and the local Pushgateway.
  const seeds = emu.seeds.split(",").map((s) => ({
    host: "127.0.0.1",
    port: Number(s.split(":")[1]),
  }));
  const local = (config: Obj, section: "backup" | "restore"): string => {
    config.cluster.seeds = seeds;
    config.aws.s3["endpoint-override"] = s3.url;
    config.metrics.addr = "127.0.0.1:0";
    config.metrics.push = pushgateway.url;
    // Shard 2 is held mid-run below by partitions that stay unavailable until it is
    // killed: its scans retry them rather than fail.
    if (section === "backup") {
      // Files of 1 MiB from 2 writers: each shard stores several before it ends.
      config.backup["file-limit"] = 1;
      config.backup.parallel = 2;
      config.backup["max-retries"] = 1_000_000;
      config.backup["sleep-between-retries"] = 10;
    }
    const path = `${work.path}/${section}.yaml`;
    Deno.writeTextFileSync(path, stringify(config));
    return path;
  };
  const backupConfig = local(backupYaml, "backup");
  restoreYaml.restore.namespace = "test,bar";
  const restoreConfig = local(restoreYaml, "restore");

  const victim = 2;
  const { begin } = shardPartitions({ index: victim, count: shards });
  emu.faults.makeUnavailable("test", [begin + 10, begin + 11]);
  const pods = Array.from(
    { length: shards },
    (_, i) => spawnPod("asbackup", backupConfig, i, secret),
  );
  const victimKeys = () =>
    [...s3.objects.keys()].filter((k) => k.startsWith(`${prefix}/shard-${victim}-of-${shards}/`));
  // Killed once it has stored data files (and while it cannot finish: no manifest yet).
  let exited = "";
  pods[victim].status.then((st) => exited = `exited with ${st.code}`);
  await until("shard 2 to store a data file", () => {
    if (exited) throw new Error(`shard ${victim} ${exited} before it was killed`);
    return Promise.resolve(victimKeys().some((k) => /\/\d+_test_\d+\.asb$/.test(k)) || undefined);
  });
  assert.ok(!victimKeys().some((k) => k.endsWith("backup.manifest.json")));
  pods[victim].kill("SIGKILL");
  const killed = await podResult(pods[victim]);
  assert.equal(killed.signal, "SIGKILL");
  for (const [i, pod] of pods.entries()) {
    if (i === victim) continue;
    const r = await podResult(pod);
    assert.equal(r.code, 0, `shard ${i}: ${r.err}`);
  }
  assert.ok(victimKeys().length > 0, "the killed pod left files behind");

  // Until the index is retried the backup is incomplete: refused, and --validate says which.
  const cloud = [
    "-z",
    "ZSTD",
    "--s3-bucket-name",
    bucket,
    "--s3-region",
    backupYaml.aws.s3.region,
    "--s3-endpoint-override",
    s3.url,
  ];
  const env = {
    AWS_ACCESS_KEY_ID: secret.AWS_ACCESS_KEY_ID,
    AWS_SECRET_ACCESS_KEY: secret.AWS_SECRET_ACCESS_KEY,
  };
  const validate = fakeIo({ env });
  assert.equal(await restoreMain(["-d", prefix, "--validate", ...cloud], validate), 1);
  assert.match(
    validate.err.text,
    /1 of its 4 shards is not there \(unfinished, without a manifest: shard 2\)/,
  );

  const login = ["-h", emu.seeds, "-U", restoreYaml.cluster.user, "-P", secret.AEROSPIKE_PASSWORD];
  const refused = fakeIo({ env });
  assert.equal(await restoreMain([...login, "-n", "test,baz", "-d", prefix, ...cloud], refused), 1);
  assert.match(refused.err.text, /Cannot restore: the sharded backup .* shard 2\)/);
  assert.equal(emu.dump("baz").length, 0);

  // Kubernetes starts the failed index again: the same pod spec, the same index.
  emu.faults.clear();
  const retried = await podResult(spawnPod("asbackup", backupConfig, victim, secret));
  assert.equal(retried.code, 0, retried.err);

  // Every pod pushed its figures, grouped by job and shard (the killed one could not; its
  // retry did).
  const pushed = await text(`${pushgateway.url}/metrics`);
  const job = backupYaml.metrics.job as string;
  let written = 0;
  for (let i = 0; i < shards; i++) {
    const line = (name: string) =>
      pushed.split("\n").find((l) =>
        l.startsWith(`${name}{`) && l.includes(`job="${job}"`) && l.includes(`shard="${i}"`)
      );
    assert.match(line("aerobak_job_success") ?? "", / 1$/, `shard ${i} pushed success`);
    written += Number(line("aerobak_records_written_total")!.split(" ").at(-1));
  }
  assert.equal(written, 6000);

  // The restore Job: one pod per shard, each checking the whole backup first.
  const restorePods = Array.from(
    { length: shards },
    (_, i) => spawnPod("asrestore", restoreConfig, i, secret),
  );
  for (const [i, pod] of restorePods.entries()) {
    const r = await podResult(pod);
    assert.equal(r.code, 0, `restore shard ${i}: ${r.err}`);
  }
  assertSameRecords(emu, "test", "bar");
  assert.ok(emu.cluster.metadata.sindexes("bar").some((s) => s.name === "idx_i"));

  // And the whole prefix in one restore, its readers spread over the shards.
  const whole = fakeIo({ env });
  const args = [...login, "-n", "test,baz", "-d", prefix, "-w", "8", ...cloud];
  assert.equal(await restoreMain(args, whole), 0, whole.err.text);
  assertSameRecords(emu, "test", "baz");
});
