import assert from "node:assert/strict";
import { parseInfoResponse } from "../aerospike/info.ts";
import { RawClient } from "./_test_client.ts";

Deno.test("main.ts prints one ready line, serves, and stops on SIGTERM", async () => {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      new URL("./main.ts", import.meta.url).pathname,
      "--port",
      "0",
      "--nodes",
      "2",
    ],
    stdout: "piped",
    stderr: "inherit",
  }).spawn();
  const reader = child.stdout.getReader();
  let text = "";
  while (!text.includes("\n")) {
    const { value, done } = await reader.read();
    if (done) break;
    text += new TextDecoder().decode(value);
  }
  const m = /^ready (\S+)\n$/.exec(text);
  assert.ok(m, `unexpected output ${JSON.stringify(text)}`);
  const hosts = m[1].split(",");
  assert.equal(hosts.length, 2);
  const c = await RawClient.connect(hosts[1]);
  assert.equal((await c.info("build")).get("build"), "8.1.2.0");
  assert.equal(parseInfoResponse("namespaces\ttest;bar\n").get("namespaces"), "test;bar");
  c.close();
  child.kill("SIGTERM");
  const status = await child.status;
  assert.equal(status.code, 0);
  const rest = await reader.read();
  assert.ok(rest.done, "nothing printed after the ready line");
});
