import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { formatAddress, isLoopback, parseHost, parseHosts } from "./host.ts";

Deno.test("parseHost() reads host, host:port and host:tls-name:port", () => {
  assert.deepEqual(parseHost("10.0.0.1", 3000), { name: "10.0.0.1", port: 3000 });
  assert.deepEqual(parseHost("a:3100", 3000), { name: "a", port: 3100 });
  assert.deepEqual(parseHost("a:tls-a", 4333), { name: "a", port: 4333, tlsName: "tls-a" });
  assert.deepEqual(parseHost("a:tls-a:4000", 3000), { name: "a", port: 4000, tlsName: "tls-a" });
});

Deno.test("parseHost() reads IPv6 in brackets, with port and TLS name", () => {
  assert.deepEqual(parseHost("[::1]", 3000), { name: "::1", port: 3000 });
  assert.deepEqual(parseHost("[::1]:3100", 3000), { name: "::1", port: 3100 });
  assert.deepEqual(parseHost("[fe80::1]:t1:4333", 3000), {
    name: "fe80::1",
    port: 4333,
    tlsName: "t1",
  });
  assert.deepEqual(parseHost("[::1]:tls", 3000), { name: "::1", port: 3000, tlsName: "tls" });
});

Deno.test("parseHost() accepts a bare IPv6 address without port", () => {
  assert.deepEqual(parseHost("2001:db8::1", 3000), { name: "2001:db8::1", port: 3000 });
  assert.deepEqual(parseHost("a::3000", 4000), { name: "a::3000", port: 4000 });
});

Deno.test("parseHost() refuses bad entries naming them", () => {
  for (
    const bad of ["", "a:0", "a:70000", "a:t:x", "[::1", "[::1]x", ":3000", "a:b:c:d", "h:x::"]
  ) {
    assert.throws(() => parseHost(bad, 3000), (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "CONFIG_INVALID");
      assert.match(e.message, /Invalid host/);
      return true;
    }, bad);
  }
});

Deno.test("parseHosts() splits on commas and drops duplicates", () => {
  assert.deepEqual(parseHosts("a, b:3100,a:3000,[::1]", 3000), [
    { name: "a", port: 3000 },
    { name: "b", port: 3100 },
    { name: "::1", port: 3000 },
  ]);
});

Deno.test("formatAddress() brackets IPv6 and isLoopback() knows loopback", () => {
  assert.equal(formatAddress("::1", 1), "[::1]:1");
  assert.equal(formatAddress("h", 2), "h:2");
  assert.ok(isLoopback("127.0.0.1") && isLoopback("::1") && isLoopback("localhost"));
  assert.ok(!isLoopback("10.0.0.1"));
});
