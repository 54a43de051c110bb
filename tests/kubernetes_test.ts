/**
 * The Kubernetes files of `deploy/kubernetes/`: every manifest validates against the
 * Kubernetes API schemas (`kubernetes-models`, pinned in deno.json) with no field the
 * schema does not know, the CronJob's Indexed Job and the restore Job agree with the
 * ConfigMap's configs and the Secret, those configs are read by the CLIs' own parsers into
 * a valid run for every pod index, and the Dockerfile copies what exists.
 */

import assert from "node:assert/strict";
import { parseAllDocuments } from "yaml";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { Secret } from "kubernetes-models/v1/Secret";
import { CronJob } from "kubernetes-models/batch/v1/CronJob";
import { Job } from "kubernetes-models/batch/v1/Job";
import { BACKUP_FLAGS } from "../cli/_backup_flags.ts";
import { BACKUP_SHARD_CONFLICTS, backupPlanFromFlags } from "../cli/_backup_options.ts";
import { cloudStorageFromFlags } from "../cli/_cloud_flags.ts";
import { clientPolicyFromFlags } from "../cli/_common_options.ts";
import { parseConfigFile } from "../cli/_config_file.ts";
import type { ParsedFlags } from "../cli/_flags.ts";
import { parseMetricsAddr } from "../cli/_metrics.ts";
import { RESTORE_FLAGS } from "../cli/_restore_flags.ts";
import { RESTORE_SHARD_CONFLICTS, restorePlanFromFlags } from "../cli/_restore_options.ts";
import { shardFromFlags } from "../cli/_shard_flags.ts";
import { resolveBackupConfig } from "../lib/backup/config.ts";
import { resolveRestoreConfig } from "../lib/restore/config.ts";
import { ROOT } from "./_backup_e2e.ts";

const DIR = `${ROOT}deploy/kubernetes`;

// deno-lint-ignore no-explicit-any
type Obj = Record<string, any>;

/** Every document of every manifest, by kind. */
function manifests(): Map<string, Obj[]> {
  const byKind = new Map<string, Obj[]>();
  for (const e of Deno.readDirSync(DIR)) {
    if (!e.name.endsWith(".yaml")) continue;
    const text = Deno.readTextFileSync(`${DIR}/${e.name}`);
    for (const doc of parseAllDocuments(text)) {
      assert.deepEqual(doc.errors, [], `${e.name}: ${doc.errors.map((x) => x.message)}`);
      const obj = doc.toJS() as Obj;
      obj.__file = e.name;
      byKind.set(obj.kind, [...(byKind.get(obj.kind) ?? []), obj]);
    }
  }
  return byKind;
}

const MODELS: Record<
  string,
  { prototype: { validate(): void }; new (data: never): { validate(): void } }
> = {
  "v1/ConfigMap": ConfigMap,
  "v1/Secret": Secret,
  "batch/v1/CronJob": CronJob,
  "batch/v1/Job": Job,
};

/**
 * Validates an object against its kind's schema, then checks that the schema reads every
 * field the object has: the validators read each property they know, so a field never
 * read is one the API does not have (a typo the API server would drop or refuse).
 */
function validateStrict(obj: Obj): void {
  const { __file: file, ...data } = obj;
  const Model = MODELS[`${data.apiVersion}/${data.kind}`];
  assert.ok(Model, `${file}: no schema for ${data.apiVersion} ${data.kind}`);
  try {
    new Model(data as never).validate();
  } catch (err) {
    assert.fail(`${file}: ${data.kind} ${data.metadata?.name}: ${(err as Error).message}`);
  }
  const read = new Set<string>();
  const track = (o: unknown, path: string): unknown => {
    if (typeof o !== "object" || o === null) return o;
    return new Proxy(o, {
      get(target, key, receiver) {
        const value = Reflect.get(target, key, receiver);
        if (typeof key !== "string") return value;
        read.add(`${path}/${key}`);
        return track(value, `${path}/${key}`);
      },
    });
  };
  Model.prototype.validate.call(track(data, ""));
  const unknown: string[] = [];
  const walk = (o: unknown, path: string) => {
    if (typeof o !== "object" || o === null) return;
    for (const [k, v] of Object.entries(o)) {
      const p = `${path}/${k}`;
      if (!read.has(p)) unknown.push(p);
      else walk(v, p);
    }
  };
  walk(data, "");
  assert.deepEqual(unknown, [], `${file}: fields the ${data.kind} schema does not have`);
}

Deno.test("deploy/kubernetes manifests validate against the Kubernetes API schemas, with no unknown field", () => {
  const all = manifests();
  assert.deepEqual([...all.keys()].sort(), ["ConfigMap", "CronJob", "Job", "Secret"]);
  for (const objs of all.values()) for (const o of objs) validateStrict(o);
});

Deno.test("the strict schema check finds a misspelt field and a wrong type", () => {
  const cron = structuredClone(manifests().get("CronJob")![0]);
  cron.spec.jobTemplate.spec.template.spec.containers[0].resource = {};
  assert.throws(() => validateStrict(cron), /containers\/0\/resource/);
  const job = structuredClone(manifests().get("Job")![0]);
  job.spec.completions = "4";
  assert.throws(() => validateStrict(job), /completions must be integer/);
});

/** The pod spec of a Job or CronJob, and the Job spec around it. */
function jobOf(o: Obj): { job: Obj; pod: Obj; podMeta: Obj } {
  const job = o.kind === "CronJob" ? o.spec.jobTemplate.spec : o.spec;
  return { job, pod: job.template.spec, podMeta: job.template.metadata };
}

function configFlags(name: "backup.yaml" | "restore.yaml"): ParsedFlags {
  const configMap = manifests().get("ConfigMap")![0];
  return parseConfigFile(
    configMap.data[name],
    name === "backup.yaml" ? BACKUP_FLAGS : RESTORE_FLAGS,
    name,
  );
}

Deno.test("the backup CronJob and the restore Job are Indexed Jobs matching the ConfigMap and the Secret", () => {
  const all = manifests();
  const configMap = all.get("ConfigMap")![0];
  const secret = all.get("Secret")![0];
  const runs: [Obj, "backup.yaml" | "restore.yaml", string][] = [
    [all.get("CronJob")![0], "backup.yaml", "asbackup"],
    [all.get("Job")![0], "restore.yaml", "asrestore"],
  ];
  for (const [obj, file, program] of runs) {
    const { job, pod, podMeta } = jobOf(obj);
    const flags = configFlags(file);
    const shards = flags.values.get("shards") as number;
    assert.ok(shards > 1, `${file} is sharded`);
    assert.equal(job.completionMode, "Indexed", obj.__file);
    assert.equal(job.completions, shards, `${obj.__file}: completions = shards of ${file}`);
    assert.equal(job.parallelism, shards, `${obj.__file}: parallelism = shards of ${file}`);
    assert.ok(job.backoffLimitPerIndex >= 1, `${obj.__file}: retries per shard`);
    // backoffLimitPerIndex and podFailurePolicy need pods that are not restarted in place.
    assert.equal(pod.restartPolicy, "Never");
    const [container] = pod.containers;
    assert.deepEqual(container.command, [program]);
    assert.equal(container.args[0], "--config");
    const configPath = container.args[1] as string;
    const mount = container.volumeMounts.find((m: Obj) => configPath.startsWith(`${m.mountPath}/`));
    assert.ok(mount, `${obj.__file}: ${configPath} is mounted`);
    const volume = pod.volumes.find((v: Obj) => v.name === mount.name);
    assert.equal(volume.configMap.name, configMap.metadata.name);
    assert.equal(configPath.slice(mount.mountPath.length + 1), file);
    assert.equal(container.envFrom[0].secretRef.name, secret.metadata.name);
    assert.ok(container.resources.requests.memory, `${obj.__file}: memory request`);
    assert.ok(container.resources.limits.memory, `${obj.__file}: memory limit`);
    // The pod runs as the image's user (Dockerfile: USER 1993).
    assert.equal(pod.securityContext.runAsUser, 1993);
    // Prometheus finds the endpoint the config serves.
    const { port } = parseMetricsAddr(flags.values.get("metrics-addr") as string);
    assert.equal(container.ports[0].containerPort, port);
    assert.equal(podMeta.annotations["prometheus.io/port"], String(port));
  }
});

Deno.test("the ConfigMap's configs are read by the CLIs into a valid run for every pod index", async () => {
  const secret = manifests().get("Secret")![0];
  const env = secret.stringData as Record<string, string>;
  const sources = {
    env: { get: (k: string) => env[k] },
    readTextFile: () => Promise.reject(new Error("no files")),
  };
  for (const file of ["backup.yaml", "restore.yaml"] as const) {
    const flags = configFlags(file);
    const backup = file === "backup.yaml";
    const cloud = await cloudStorageFromFlags(flags, !backup, {
      env,
      readTextFile: sources.readTextFile,
    }, undefined);
    assert.ok(cloud, `${file} names a bucket`);
    // The password is the Secret's, through the environment.
    const policy = await clientPolicyFromFlags(flags, sources, undefined);
    assert.equal(policy.password, env.AEROSPIKE_PASSWORD);
    const count = flags.values.get("shards") as number;
    const shards = new Set<string>();
    for (let index = 0; index < count; index++) {
      const podEnv = {
        get: (k: string) => (k === "JOB_COMPLETION_INDEX" ? String(index) : env[k]),
      };
      if (backup) {
        const plan = backupPlanFromFlags(flags, undefined, new Date(), cloud);
        plan.config.shard = shardFromFlags(flags, podEnv, BACKUP_SHARD_CONFLICTS);
        const config = resolveBackupConfig(plan.config);
        assert.equal(plan.target.kind, "cloud");
        assert.deepEqual(config.shard, { index, count });
        shards.add(JSON.stringify(config.partitionFilters));
      } else {
        const plan = restorePlanFromFlags(flags, undefined, 2, cloud);
        plan.config.shard = shardFromFlags(flags, podEnv, RESTORE_SHARD_CONFLICTS);
        assert.deepEqual(resolveRestoreConfig(plan.config).shard, { index, count });
        assert.equal(plan.source.kind, "cloud");
        shards.add(String(index));
      }
    }
    assert.equal(shards.size, count, `${file}: every pod gets a shard of its own`);
  }
  // Both tools read the same prefix.
  assert.equal(
    configFlags("backup.yaml").values.get("directory"),
    configFlags("restore.yaml").values.get("directory"),
  );
});

Deno.test("the Dockerfile copies files that exist and runs the CLIs of this repository", async () => {
  const text = await Deno.readTextFile(`${DIR}/Dockerfile`);
  const denoVersion = /ARG DENO_VERSION=(\S+)/.exec(text)?.[1];
  const ci = await Deno.readTextFile(`${ROOT}.ci/run`);
  assert.ok(
    ci.includes(`deno@${denoVersion}`),
    `the image's Deno ${denoVersion} is the one CI pins`,
  );
  for (const m of text.matchAll(/^COPY (.+) (\S+)$/gm)) {
    for (const src of m[1].split(/\s+/)) {
      if (src.startsWith("dist/")) continue; // built by `deno task compile` for --target compiled
      await Deno.stat(`${ROOT}${src}`); // throws for a missing file
    }
  }
  // The wrappers run /app/cli/<tool>.ts, which the image copies from cli/.
  assert.match(text, /for tool in asbackup asrestore; do/);
  assert.match(text, /exec deno run [^\n]*\/app\/cli\/%s\.ts/);
  for (const tool of ["asbackup", "asrestore"]) await Deno.stat(`${ROOT}cli/${tool}.ts`);
  assert.match(text, /USER 1993:1993\nRUN deno cache cli\/asbackup\.ts cli\/asrestore\.ts/);
  const ignore = await Deno.readTextFile(`${DIR}/Dockerfile.dockerignore`);
  for (const kept of ["deno.json", "deno.lock", "mod.ts", "lib/", "cli/"]) {
    assert.ok(ignore.includes(`!${kept}`), `the build context keeps ${kept}`);
  }
});
