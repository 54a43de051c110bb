import assert from "node:assert/strict";
import { AerobakError } from "../../errors.ts";
import { asbxFileName, groupAsbxFiles, parseAsbxFileName, sortAsbxFiles } from "./file_name.ts";

Deno.test("asbxFileName() builds <prefix><ns>_<n>.asbx", () => {
  assert.equal(asbxFileName("0_", "test", 1), "0_test_1.asbx");
});

Deno.test("parseAsbxFileName() takes writer, namespace and number from a path", () => {
  assert.deepEqual(parseAsbxFileName("/b/3_test_17.asbx"), {
    writer: 3,
    namespace: "test",
    fileNumber: 17,
  });
  assert.deepEqual(parseAsbxFileName("c:\\b\\0_bar_2.asbx").namespace, "bar");
});

Deno.test("parseAsbxFileName() rejects names that are not <w>_<ns>_<n>.asbx", () => {
  for (
    const bad of ["0_my_ns_1.asbx", "0_test_1.asb", "x_test_1.asbx", "0_test_.asbx", "test.asbx"]
  ) {
    assert.throws(() => parseAsbxFileName(bad), (e: unknown) => {
      assert.ok(e instanceof AerobakError);
      assert.equal(e.code, "ASBX_FILE_NAME");
      assert.equal(e.location?.file, bad);
      return true;
    });
  }
});

Deno.test("groupAsbxFiles() groups by writer in ascending file number", () => {
  const names = ["1_t_4.asbx", "0_t_10.asbx", "0_t_2.asbx", "1_t_3.asbx", "0_t_1.asbx"];
  const groups = groupAsbxFiles(names, (n) => n);
  assert.deepEqual([...groups.keys()], [0, 1]);
  assert.deepEqual(groups.get(0), ["0_t_1.asbx", "0_t_2.asbx", "0_t_10.asbx"]);
  assert.deepEqual(groups.get(1), ["1_t_3.asbx", "1_t_4.asbx"]);
});

Deno.test("sortAsbxFiles() interleaves writers round-robin like SortBackupFiles", () => {
  const files = ["0_t_5.asbx", "1_t_2.asbx", "0_t_1.asbx", "2_t_3.asbx", "1_t_4.asbx", "0_t_6.asbx"]
    .map((name) => ({ name }));
  assert.deepEqual(sortAsbxFiles(files, (f) => f.name).map((f) => f.name), [
    "0_t_1.asbx",
    "1_t_2.asbx",
    "2_t_3.asbx",
    "0_t_5.asbx",
    "1_t_4.asbx",
    "0_t_6.asbx",
  ]);
});
