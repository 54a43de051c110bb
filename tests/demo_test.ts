import assert from "node:assert/strict";

Deno.test("deno task demo backs up, restores into another namespace and verifies", async () => {
  const demo = new URL("../scripts/demo.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", demo, "--records", "400"],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  const stderr = new TextDecoder().decode(out.stderr);
  assert.equal(out.code, 0, `demo failed:\n${stdout}\n${stderr}`);
  assert.match(stdout, /test holds 400 records, bar holds 400; 400 identical, 0 different/);
  assert.match(stdout, /index restored, UDF restored/);
  assert.match(stderr, /Records Read:\s+400/);
  assert.match(stderr, /Inserted Records:\s+400/);
});
