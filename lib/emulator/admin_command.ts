/**
 * The admin protocol (type 2) as far as clients use it to connect: LOGIN and
 * AUTHENTICATE. With no users configured the emulator is a Community Edition server and
 * answers 52 SECURITY_NOT_ENABLED, which clients take as "proceed without login".
 *
 * @module
 */

import { randomBytes } from "node:crypto";
import {
  AdminCommand,
  AdminField,
  decodeAdminMessage,
  encodeAdminMessage,
  hashPassword,
} from "../aerospike/requests.ts";
import { ResultCode } from "../aerospike/result_code.ts";
import type { ServerConnection } from "./connection.ts";

const credentials = new Map<string, string>();
const decoder = new TextDecoder();

function credentialOf(password: string): string {
  // bcrypt costs ~100 ms: hash each password once per process.
  let c = credentials.get(password);
  if (c === undefined) credentials.set(password, c = hashPassword(password));
  return c;
}

/**
 * Answers one admin message.
 *
 * @param c The connection.
 * @param body The admin body (after the proto header).
 */
export async function handleAdmin(c: ServerConnection, body: Uint8Array): Promise<void> {
  let m;
  try {
    m = decodeAdminMessage(body);
  } catch {
    c.close();
    return;
  }
  const cluster = c.cluster;
  const reply = (rc: number, fields: [number, Uint8Array][] = []) =>
    c.send(encodeAdminMessage(m.command, fields, rc));
  if (cluster.users.size === 0) return await reply(ResultCode.SECURITY_NOT_ENABLED);
  const user = decoder.decode(m.fields.get(AdminField.USER) ?? new Uint8Array());
  switch (m.command) {
    case AdminCommand.LOGIN: {
      const password = cluster.users.get(user);
      if (password === undefined) return await reply(ResultCode.INVALID_USER);
      const cred = decoder.decode(m.fields.get(AdminField.CREDENTIAL) ?? new Uint8Array());
      if (cred !== credentialOf(password)) return await reply(ResultCode.INVALID_CREDENTIAL);
      const token = randomBytes(32);
      cluster.sessions.set(token.toString("hex"), {
        user,
        expiresMs: cluster.clock.now() + cluster.sessionTtlSeconds * 1000,
      });
      c.authenticated = true;
      c.user = user;
      const ttl = new Uint8Array(4);
      new DataView(ttl.buffer).setUint32(0, cluster.sessionTtlSeconds);
      return await reply(ResultCode.OK, [
        [AdminField.SESSION_TOKEN, new Uint8Array(token)],
        [AdminField.SESSION_TTL, ttl],
      ]);
    }
    case AdminCommand.AUTHENTICATE: {
      const token = m.fields.get(AdminField.SESSION_TOKEN);
      const hex = token === undefined
        ? ""
        : Array.from(token, (b) => b.toString(16).padStart(2, "0")).join("");
      const s = cluster.sessions.get(hex);
      if (s === undefined || (m.fields.has(AdminField.USER) && s.user !== user)) {
        return await reply(ResultCode.INVALID_CREDENTIAL);
      }
      if (s.expiresMs <= cluster.clock.now()) {
        cluster.sessions.delete(hex);
        return await reply(ResultCode.EXPIRED_SESSION);
      }
      c.authenticated = true;
      c.user = s.user;
      return await reply(ResultCode.OK);
    }
    default:
      // User and role administration is not emulated.
      return await reply(
        c.authenticated ? ResultCode.INVALID_COMMAND : ResultCode.NOT_AUTHENTICATED,
      );
  }
}
