import assert from "node:assert/strict";
import {
  amzDate,
  awsUriEncode,
  canonicalQuery,
  EMPTY_SHA256,
  sha256Hex,
  signRequest,
} from "./s3_signer.ts";

// AWS General Reference, "Signature Version 4 test suite" (aws-sig-v4-test-suite).
const SUITE = {
  region: "us-east-1",
  service: "service",
  credentials: {
    accessKeyId: "AKIDEXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY",
  },
  date: new Date("2015-08-30T12:36:00Z"),
};

// Amazon S3 API Reference, "Signature Calculations for the Authorization Header:
// Transferring Payload in a Single Chunk" (examplebucket, 2013-05-24).
const S3_DOCS = {
  region: "us-east-1",
  service: "s3",
  credentials: {
    accessKeyId: "AKIAIOSFODNN7EXAMPLE",
    secretAccessKey: "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
  },
  date: new Date("2013-05-24T00:00:00Z"),
};

Deno.test("signRequest() reproduces the get-vanilla test of the SigV4 test suite", () => {
  const signed = signRequest({
    ...SUITE,
    method: "GET",
    url: new URL("https://example.amazonaws.com/"),
  });
  assert.equal(signed.headers["x-amz-date"], "20150830T123600Z");
  assert.equal(
    signed.canonicalRequest,
    "GET\n/\n\nhost:example.amazonaws.com\nx-amz-date:20150830T123600Z\n\nhost;x-amz-date\n" +
      EMPTY_SHA256,
  );
  assert.equal(
    signed.headers["authorization"],
    "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20150830/us-east-1/service/aws4_request, " +
      "SignedHeaders=host;x-amz-date, " +
      "Signature=5fa00fa31553b73ebf1942676e86291e8372ff2a2260956d9b8aae1d763fbf31",
  );
});

Deno.test("signRequest() reproduces post-vanilla and get-vanilla-query-order-key-case", () => {
  const post = signRequest({
    ...SUITE,
    method: "POST",
    url: new URL("https://example.amazonaws.com/"),
  });
  assert.equal(post.signature, "5da7c1a2acd57cee7505fc6676e4e544621c30862966e37dddb68e92efbe5d6b");
  const query = signRequest({
    ...SUITE,
    method: "GET",
    url: new URL("https://example.amazonaws.com/?Param2=value2&Param1=value1"),
  });
  assert.equal(query.signature, "b97d918cfa904a5beff61c982a1b6f458b799221646efd99d3219ec94cdf2500");
});

Deno.test("signRequest() reproduces the S3 documentation's GET Object example", () => {
  const signed = signRequest({
    ...S3_DOCS,
    method: "GET",
    url: new URL("https://examplebucket.s3.amazonaws.com/test.txt"),
    headers: { range: "bytes=0-9", "x-amz-content-sha256": EMPTY_SHA256 },
  });
  assert.equal(
    signed.headers["authorization"],
    "AWS4-HMAC-SHA256 Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request, " +
      "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date, " +
      "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
  );
});

Deno.test("signRequest() reproduces the S3 documentation's PUT Object example", () => {
  const payload = sha256Hex("Welcome to Amazon S3.");
  assert.equal(payload, "44ce7dd67c959e0d3524ffac1771dfbba87d2b6b4b4e99e42034a8b803f8b072");
  const signed = signRequest({
    ...S3_DOCS,
    method: "PUT",
    url: new URL(`https://examplebucket.s3.amazonaws.com/${awsUriEncode("test$file.text", true)}`),
    headers: {
      date: "Fri, 24 May 2013 00:00:00 GMT",
      "x-amz-storage-class": "REDUCED_REDUNDANCY",
      "x-amz-content-sha256": payload,
    },
    payloadHash: payload,
  });
  assert.match(
    signed.headers["authorization"],
    /SignedHeaders=date;host;x-amz-content-sha256;x-amz-date;x-amz-storage-class, /,
  );
  assert.equal(
    signed.signature,
    "98ad721746da40c64f1a55b78f14c238d841ea1380cd77a1b5971af0ece108bd",
  );
});

Deno.test("signRequest() reproduces the S3 documentation's lifecycle and list examples", () => {
  const common = { ...S3_DOCS, method: "GET", headers: { "x-amz-content-sha256": EMPTY_SHA256 } };
  const lifecycle = signRequest({
    ...common,
    url: new URL("https://examplebucket.s3.amazonaws.com/?lifecycle"),
  });
  assert.equal(
    lifecycle.signature,
    "fea454ca298b7da1c68078a5d1bdbfbbe0d65c699e0f91ac7a200a0136783543",
  );
  const list = signRequest({
    ...common,
    url: new URL("https://examplebucket.s3.amazonaws.com/?max-keys=2&prefix=J"),
  });
  assert.equal(list.signature, "34b48302e7b5fa45bde8084f4b7868a86f0a534bc59db6670ed5711ef69dc6f7");
});

Deno.test("signRequest() signs the session token of temporary credentials", () => {
  const signed = signRequest({
    ...SUITE,
    credentials: { ...SUITE.credentials, sessionToken: "token/+=" },
    method: "GET",
    url: new URL("https://example.amazonaws.com/"),
  });
  assert.equal(signed.headers["x-amz-security-token"], "token/+=");
  assert.match(
    signed.headers["authorization"],
    /SignedHeaders=host;x-amz-date;x-amz-security-token,/,
  );
});

Deno.test("awsUriEncode() encodes all but unreserved bytes, with upper-case hex", () => {
  assert.equal(awsUriEncode("a b/c~d_e.f-g"), "a%20b%2Fc~d_e.f-g");
  assert.equal(awsUriEncode("dir/x+y=z.asb", true), "dir/x%2By%3Dz.asb");
  assert.equal(awsUriEncode("é€"), "%C3%A9%E2%82%AC");
});

Deno.test("canonicalQuery() sorts, fills missing values and encodes once", () => {
  assert.equal(canonicalQuery(""), "");
  assert.equal(canonicalQuery("uploads"), "uploads=");
  assert.equal(
    canonicalQuery("prefix=a%2Fb%20c&list-type=2&delimiter=%2F"),
    "delimiter=%2F&list-type=2&prefix=a%2Fb%20c",
  );
  assert.equal(canonicalQuery("b=2&a=2&a=1"), "a=1&a=2&b=2");
});

Deno.test("amzDate() formats whole seconds in UTC", () => {
  assert.equal(amzDate(new Date("2024-02-29T23:59:59.999Z")), "20240229T235959Z");
});
