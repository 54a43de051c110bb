/**
 * Command-line flags that reach the cloud fakes, shared by the end-to-end tests.
 *
 * @module
 */

import type { startS3TestServer } from "../lib/io/cloud/s3_test_server.ts";

type S3Fake = Awaited<ReturnType<typeof startS3TestServer>>;

/** Flags that reach a fake S3 bucket, with its keys unless others are given. */
export function s3Flags(
  s3: S3Fake,
  region = "us-east-1",
  keys: [string, string] = [s3.accessKeyId, s3.secretAccessKey],
): string[] {
  return [
    "--s3-bucket-name",
    s3.bucket,
    "--s3-region",
    region,
    "--s3-endpoint-override",
    s3.url,
    "--s3-access-key-id",
    keys[0],
    "--s3-secret-access-key",
    keys[1],
  ];
}
