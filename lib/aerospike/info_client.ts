/**
 * Info commands over a connection: several commands in one request, answers keyed by
 * command, and errors inside answers turned into typed errors naming node and command.
 *
 * @module
 */

import { AerobakError, type NodeRef } from "../errors.ts";
import type { Connection, ReadLimits } from "./connection.ts";
import { encodeInfoRequest, infoError, parseInfoResponse } from "./info.ts";
import { ProtoType } from "./proto.ts";

/**
 * Sends info commands in one request and reads the answers.
 *
 * @param conn An open (authenticated) connection.
 * @param commands Commands, sent as-is, one per line.
 * @param limits Time limits.
 * @returns Command → raw value (errors stay inside values; see {@linkcode infoValue}).
 * @throws {AerobakError} Transport and framing errors naming the node and the commands
 *   (`PROTO_INVALID` also when the reply is not an info message); the connection is then closed.
 */
export async function infoRequest(
  conn: Connection,
  commands: readonly string[],
  limits: ReadLimits,
): Promise<Map<string, string>> {
  if (commands.length === 0) throw new RangeError("Cannot send an info request: no commands");
  conn.begin(`info ${commands.map((c) => c.split(":")[0]).join(",")}`);
  const frame = await conn.request(encodeInfoRequest(commands), ProtoType.INFO, limits);
  return parseInfoResponse(frame.body);
}

/**
 * Takes one answer out of an info reply and checks it for an error.
 *
 * @param answers The reply of {@linkcode infoRequest}.
 * @param command The command whose answer is wanted.
 * @param node The node that answered, for errors.
 * @returns The value.
 * @throws {AerobakError} `INFO_ERROR` with the server's result code when the value is an
 *   `ERROR:`/`FAIL:`/`error=` answer; `INFO_INVALID` when the command was not answered.
 */
export function infoValue(
  answers: ReadonlyMap<string, string>,
  command: string,
  node: NodeRef,
): string {
  const value = answers.get(command);
  const who = node.name ? `${node.address} (node ${node.name})` : node.address;
  if (value === undefined) {
    throw new AerobakError(
      "INFO_INVALID",
      `Info command "${command}" on ${who} failed: no answer for it in the reply`,
      { node: { ...node } },
    );
  }
  const err = infoError(value);
  if (err !== null) {
    throw new AerobakError(
      "INFO_ERROR",
      `Info command "${command}" on ${who} failed: server returned ${err.code}${
        err.message ? ` ${err.message}` : ""
      }`,
      { node: { ...node }, resultCode: err.code },
    );
  }
  return value;
}
