/**
 * Batch-index commands (batch reads, writes and deletes): every row is executed as a
 * record command and answered in order with its batch index in the transaction_ttl slot;
 * the rows' answers share ~1 MiB protos and a separate LAST message ends the batch
 * (wire-protocol.md §8).
 *
 * @module
 */

import { partitionId } from "../aerospike/digest.ts";
import { Info2, Info3 } from "../aerospike/message.ts";
import { decodeBatchRequest, writeReplyHeader } from "../aerospike/requests.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import type { ServerConnection } from "./connection.ts";
import { executeRecordCommand, type RecordFilter } from "./record_commands.ts";
import { SCAN_FLUSH_BYTES } from "./scan_command.ts";
import { awaitWritable, type WriteTarget } from "./write_hold.ts";

/**
 * Serves one batch request on a connection.
 *
 * @param c The connection.
 * @param body The request body.
 * @param filter Filter expression evaluator.
 */
export async function executeBatch(
  c: ServerConnection,
  body: Uint8Array,
  filter: RecordFilter,
): Promise<void> {
  const cluster = c.cluster;
  let batch;
  try {
    batch = decodeBatchRequest(body);
  } catch {
    return await wholeBatchError(c, ResultCode.PARAMETER_ERROR);
  }
  if (cluster.batchIndexThreads === 0) return await wholeBatchError(c, ResultCode.BATCH_DISABLED);
  const writes: WriteTarget[] = [];
  for (const row of batch.rows) {
    const ns = (row.info2 & Info2.WRITE) !== 0 ? cluster.namespace(row.namespace) : undefined;
    if (ns !== undefined) writes.push({ ns, pid: partitionId(row.digest) });
  }
  // The whole batch waits while one of its writes must (the survivors answered held
  // batches whole in the captures).
  const hold = await awaitWritable(c, writes, batch.header.transactionTtl);
  if (hold === "closed") return;
  if (hold === "timeout") return await wholeBatchError(c, ResultCode.TIMEOUT);
  c.begin();
  for (const row of batch.rows) {
    executeRecordCommand(
      cluster,
      {
        header: {
          info1: row.info1,
          info2: row.info2,
          info3: row.info3,
          info4: row.info4,
          resultCode: 0,
          generation: row.generation,
          recordTtl: row.ttl,
          transactionTtl: 0,
          nFields: 0,
          nOps: row.ops.length,
        },
        namespace: row.namespace,
        set: row.set,
        digest: row.digest,
        key: row.key,
        ops: row.ops,
        filterExpression: row.filterExpression ?? batch.filterExpression,
      },
      { w: c.w, batchIndex: row.index, node: c.node.name },
      filter,
    );
    if (c.openSize >= SCAN_FLUSH_BYTES) {
      c.end();
      await c.flush();
      c.begin();
    }
  }
  c.end();
  c.begin();
  writeReplyHeader(c.w, { info3: Info3.LAST });
  c.end();
  await c.flush();
}

async function wholeBatchError(c: ServerConnection, resultCode: number): Promise<void> {
  // A lone 22-byte LAST message with a non-zero code fails the whole batch.
  c.begin();
  writeReplyHeader(c.w, { info3: Info3.LAST, resultCode });
  c.end();
  await c.flush();
}
