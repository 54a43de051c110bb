import assert from "node:assert/strict";
import { AerobakError } from "../errors.ts";
import { chunked, collect } from "./_test_helpers.ts";
import { checkBackupHeader, createHeaderCheckStream } from "./header_check.ts";

const enc = (s: string) => new TextEncoder().encode(s);

function rejectsHeader(fn: () => unknown, mention: RegExp): void {
  assert.throws(
    fn,
    (err: unknown) =>
      err instanceof AerobakError && err.code === "BACKUP_HEADER_INVALID" &&
      mention.test(err.message),
  );
}

Deno.test("checkBackupHeader() accepts ASB and ASBX starts", () => {
  checkBackupHeader(enc("Version 3.1\n"));
  checkBackupHeader(enc("Version 3.2\n# namespace x"));
  checkBackupHeader(new Uint8Array([1, 0, 0, 0, 0, 0, 0, 0, 1, 0, 0, 0, 0, 0x74]), {
    format: "asbx",
  });
});

Deno.test("checkBackupHeader() names the file and the likely wrong option", () => {
  rejectsHeader(
    () =>
      checkBackupHeader(new Uint8Array([0x9c, 0x11, 0xfe, 1, 2, 3, 4, 5, 6, 7]), { file: "a.asb" }),
    /File a\.asb does not start with an ASB header.*wrong or missing --encrypt\/--compress\/key\?/,
  );
  rejectsHeader(
    () =>
      checkBackupHeader(new Uint8Array([0x28, 0xb5, 0x2f, 0xfd, 0, 0, 0, 0, 0, 0]), {
        file: "z.asb",
      }),
    /z\.asb.*missing --compress ZSTD/,
  );
  rejectsHeader(
    () => checkBackupHeader(enc("Version 2.0\n"), { file: "old.asb" }),
    /old\.asb.*"Version 2\."/,
  );
  rejectsHeader(
    () => checkBackupHeader(new Uint8Array(0), { file: "e.asb" }),
    /File e\.asb is empty/,
  );
  rejectsHeader(() => checkBackupHeader(enc("Vers"), { file: "s.asb" }), /s\.asb does not start/);
  rejectsHeader(
    () => checkBackupHeader(new Uint8Array(13).fill(7), { file: "x.asbx", format: "asbx" }),
    /x\.asbx does not start with an ASBX header/,
  );
});

Deno.test("createHeaderCheckStream() passes every byte through after a header split across chunks", async () => {
  const data = enc("Version 3.1\n# namespace test\n+ k S x\n");
  for (const split of [[1], [3, 100], [10], [11]]) {
    assert.deepEqual(
      await collect(chunked(data, split).pipeThrough(createHeaderCheckStream({ file: "a.asb" }))),
      data,
    );
  }
  await assert.rejects(
    collect(chunked(enc("Versi"), [2]).pipeThrough(createHeaderCheckStream({ file: "short.asb" }))),
    /short\.asb/,
  );
  await assert.rejects(
    collect(
      chunked(enc("garbage garbage"), [2]).pipeThrough(createHeaderCheckStream({ file: "g.asb" })),
    ),
    /g\.asb does not start/,
  );
});
