import assert from "node:assert/strict";
import { classifyWriteResult } from "./write_result.ts";

const single = { ignoreRecordError: false, batch: false };
const ignoring = { ignoreRecordError: true, batch: false };
const batch = { ignoreRecordError: false, batch: true };

Deno.test("classifyWriteResult() counts OK, generation and exists results", () => {
  assert.equal(classifyWriteResult(0, single), "inserted");
  assert.equal(classifyWriteResult(3, single), "fresher");
  assert.equal(classifyWriteResult(5, batch), "existed");
});

Deno.test("classifyWriteResult() ignores record-specific codes only when allowed", () => {
  for (const code of [13, 19, 21, 10, 22, 12, 17]) {
    assert.equal(classifyWriteResult(code, single), "fail");
    assert.equal(classifyWriteResult(code, ignoring), "ignored");
    assert.equal(classifyWriteResult(code, batch), "ignored");
  }
  assert.equal(classifyWriteResult(2, single), "retry");
  assert.equal(classifyWriteResult(2, ignoring), "ignored");
});

Deno.test("classifyWriteResult() retries everything else", () => {
  for (const code of [1, 4, 9, 11, 14, 18, -8, -11, -18, -20, 151]) {
    assert.equal(classifyWriteResult(code, single), "retry", `code ${code}`);
    assert.equal(classifyWriteResult(code, batch), "retry", `code ${code}`);
  }
});
