import assert from "node:assert/strict";
import {
  isRecordSpecific,
  isRetriable,
  ResultCode,
  resultCodeName,
  serverError,
} from "./result_code.ts";

Deno.test("resultCodeName() names known and unknown codes", () => {
  assert.equal(resultCodeName(2), "KEY_NOT_FOUND");
  assert.equal(resultCodeName(ResultCode.BATCH_DISABLED), "BATCH_DISABLED");
  assert.equal(resultCodeName(-18), "NETWORK_ERROR");
  assert.equal(resultCodeName(99), "UNKNOWN_99");
});

Deno.test("isRecordSpecific() matches exactly the seven record codes", () => {
  const yes = [10, 12, 13, 17, 19, 21, 22];
  for (let c = -30; c < 256; c++) assert.equal(isRecordSpecific(c), yes.includes(c), `code ${c}`);
});

Deno.test("isRetriable() retries timeouts and overloads, not permanent failures", () => {
  for (const c of [9, 11, 14, 18, -18, -11, -8, -15, -16, -20, 151, 152, 1]) {
    assert.ok(isRetriable(c), `code ${c}`);
  }
  for (const c of [0, 2, 3, 4, 5, 8, 13, 16, 20, 25, 80, 150, 160]) {
    assert.ok(!isRetriable(c), `code ${c}`);
  }
});

Deno.test("serverError() carries the code, retriable and in-doubt flags", () => {
  const e = serverError(9, {
    command: "put",
    node: { address: "h:3000", name: "BB9" },
    write: true,
  });
  assert.equal(e.code, "SERVER_ERROR");
  assert.equal(e.resultCode, 9);
  assert.ok(e.retriable);
  assert.ok(e.inDoubt);
  assert.equal(e.message, "Put failed on BB9: server returned 9 TIMEOUT");
  const p = serverError(4);
  assert.ok(!p.retriable);
  assert.ok(!p.inDoubt);
  assert.equal(p.message, "Command failed: server returned 4 PARAMETER_ERROR");
});
