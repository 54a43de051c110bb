import assert from "node:assert/strict";
import type { AerobakError } from "../../errors.ts";
import { parseAwsIni, resolveAwsConfig } from "./s3_credentials.ts";

const CREDENTIALS = `
# shared credentials
[default]
aws_access_key_id = AKIDDEFAULT
aws_secret_access_key = secret/default+1 ; a comment

[prod]
aws_access_key_id=AKIDPROD
aws_secret_access_key=secret-prod
aws_session_token = token-prod
`;

const CONFIG = `
[default]
region = eu-west-1
s3 =
  addressing_style = path

[profile prod]
region = ap-south-1

[profile cfgonly]
aws_access_key_id = AKIDCFG
aws_secret_access_key = secret-cfg

[profile role]
role_arn = arn:aws:iam::123456789012:role/backup
source_profile = default
`;

function files(map: Record<string, string>) {
  const reads: string[] = [];
  return {
    reads,
    readTextFile: (path: string) => {
      reads.push(path);
      return path in map
        ? Promise.resolve(map[path])
        : Promise.reject(new Deno.errors.NotFound(`no ${path}`));
    },
  };
}

const HOME_FILES = { "/home/u/.aws/credentials": CREDENTIALS, "/home/u/.aws/config": CONFIG };

Deno.test("parseAwsIni() reads sections and keys, skipping comments and sub-properties", () => {
  const ini = parseAwsIni(CONFIG);
  assert.equal(ini.get("default")?.get("region"), "eu-west-1");
  assert.equal(ini.get("default")?.has("addressing_style"), false);
  assert.equal(ini.get("profile prod")?.get("region"), "ap-south-1");
  assert.equal(
    parseAwsIni(CREDENTIALS).get("default")?.get("aws_secret_access_key"),
    "secret/default+1",
  );
});

Deno.test("resolveAwsConfig() prefers explicit keys, then an explicit profile, then the environment", async () => {
  const env = {
    HOME: "/home/u",
    AWS_ACCESS_KEY_ID: "AKIDENV",
    AWS_SECRET_ACCESS_KEY: "secret-env",
    AWS_SESSION_TOKEN: "token-env",
    AWS_PROFILE: "prod",
  };
  const f = files(HOME_FILES);
  const explicit = await resolveAwsConfig({
    accessKeyId: "AKIDFLAG",
    secretAccessKey: "secret-flag",
    region: "us-west-2",
    env,
    readTextFile: f.readTextFile,
  });
  assert.deepEqual(explicit.credentials, {
    accessKeyId: "AKIDFLAG",
    secretAccessKey: "secret-flag",
  });
  assert.equal(explicit.region, "us-west-2");
  assert.deepEqual(f.reads, [], "nothing read when the flags say it all");

  const profile = await resolveAwsConfig({ profile: "prod", env, readTextFile: f.readTextFile });
  assert.deepEqual(profile.credentials, {
    accessKeyId: "AKIDPROD",
    secretAccessKey: "secret-prod",
    sessionToken: "token-prod",
  });
  assert.equal(profile.credentialSource, 'profile "prod" in /home/u/.aws/credentials');

  // AWS_PROFILE does not beat the environment's keys (only an explicit profile does).
  const fromEnv = await resolveAwsConfig({ env, readTextFile: f.readTextFile });
  assert.equal(fromEnv.credentialSource, "environment");
  assert.equal(fromEnv.credentials.sessionToken, "token-env");
  assert.equal(fromEnv.region, "ap-south-1", "region of AWS_PROFILE's config");
});

Deno.test("resolveAwsConfig() falls back to the default profile and its region", async () => {
  const f = files(HOME_FILES);
  const cfg = await resolveAwsConfig({ env: { HOME: "/home/u" }, readTextFile: f.readTextFile });
  assert.equal(cfg.credentials.accessKeyId, "AKIDDEFAULT");
  assert.equal(cfg.region, "eu-west-1");
  const regionEnv = await resolveAwsConfig({
    env: { HOME: "/home/u", AWS_DEFAULT_REGION: "sa-east-1" },
    readTextFile: f.readTextFile,
  });
  assert.equal(regionEnv.region, "sa-east-1");
  const other = files({
    "/etc/creds": "[default]\naws_access_key_id=A\naws_secret_access_key=B\n",
  });
  const moved = await resolveAwsConfig({
    env: {
      AWS_SHARED_CREDENTIALS_FILE: "/etc/creds",
      AWS_CONFIG_FILE: "/etc/none",
      AWS_REGION: "x",
    },
    readTextFile: other.readTextFile,
  });
  assert.equal(moved.credentials.accessKeyId, "A");
  assert.deepEqual(other.reads, ["/etc/creds", "/etc/none"]);
  const cfgOnly = await resolveAwsConfig({
    profile: "cfgonly",
    env: { HOME: "/home/u" },
    readTextFile: f.readTextFile,
  });
  assert.equal(cfgOnly.credentials.accessKeyId, "AKIDCFG");
  assert.equal(cfgOnly.credentialSource, 'profile "cfgonly" in /home/u/.aws/config');
});

Deno.test("resolveAwsConfig() refuses missing, keyless and role profiles with STORAGE_AUTH", async () => {
  const f = files(HOME_FILES);
  const env = { HOME: "/home/u" };
  const auth = (re: RegExp) => (e: AerobakError) => e.code === "STORAGE_AUTH" && re.test(e.message);
  await assert.rejects(
    () => resolveAwsConfig({ profile: "nope", env, readTextFile: f.readTextFile }),
    auth(
      /Cannot find AWS profile "nope" in \/home\/u\/\.aws\/credentials and \/home\/u\/\.aws\/config/,
    ),
  );
  await assert.rejects(
    () => resolveAwsConfig({ profile: "role", env, readTextFile: f.readTextFile }),
    auth(/profile "role" .*sets "role_arn"/),
  );
  await assert.rejects(
    () => resolveAwsConfig({ env: {}, readTextFile: files({}).readTextFile }),
    auth(/Cannot find AWS credentials: .*AWS_ACCESS_KEY_ID/),
  );
  await assert.rejects(
    () =>
      resolveAwsConfig({
        env,
        readTextFile: () => Promise.reject(new Deno.errors.PermissionDenied("denied")),
      }),
    auth(/Cannot read AWS shared file \/home\/u\/\.aws\/credentials: denied/),
  );
});
