/**
 * Logging in to nodes: INTERNAL (bcrypt credential), EXTERNAL (adds the clear password,
 * so TLS only) and PKI (the client certificate is the identity). A login yields a session
 * token per node; further connections send AUTHENTICATE with it, and log in again when it
 * expired or the server answers 66 EXPIRED_SESSION.
 *
 * @module
 */

import { AerobakError } from "../errors.ts";
import { type Connection, readLimits } from "./connection.ts";
import { ProtoType } from "./proto.ts";
import {
  decodeAdminMessage,
  decodeLoginReply,
  encodeAuthenticateRequest,
  encodeLoginRequest,
  hashPassword,
} from "./requests.ts";
import { ResultCode, resultCodeName } from "./result_code.ts";

/** Where a node's session token is kept (a `Node`, or a stand-in while the cluster is discovered). */
export interface SessionHolder {
  /** Token from the last login; null before the first. */
  sessionToken: Uint8Array | null;
  /** `Date.now()` after which the token is not used any more. */
  sessionExpires: number;
}

/** Options of {@linkcode Authenticator}. */
export interface AuthOptions {
  /** Authentication mode. */
  mode: "INTERNAL" | "EXTERNAL" | "PKI";
  /** User (INTERNAL, EXTERNAL). */
  user?: string;
  /** Password (INTERNAL, EXTERNAL). */
  password?: string;
  /** Limit of one login or authenticate exchange, ms. */
  loginTimeoutMs: number;
  /** Whether connections use TLS (EXTERNAL and PKI refuse to run without). */
  tls: boolean;
}

// Renew tokens a minute before the server expires them, as the Go client does.
const TOKEN_MARGIN_MS = 60_000;

/** Authenticates connections for one cluster. */
export class Authenticator {
  #opts: AuthOptions;
  #credential: string | undefined;
  #securityDisabled = false;

  /**
   * Creates an authenticator for one cluster.
   *
   * @param opts Mode, credentials, limit.
   * @throws {AerobakError} `AUTH_REQUIRES_TLS` for EXTERNAL or PKI without TLS.
   */
  constructor(opts: AuthOptions) {
    if (opts.mode !== "INTERNAL" && !opts.tls) {
      throw new AerobakError(
        "AUTH_REQUIRES_TLS",
        `Authentication mode ${opts.mode} needs TLS: ${
          opts.mode === "EXTERNAL"
            ? "the password would travel in clear"
            : "the client certificate is the identity"
        }`,
      );
    }
    if (opts.mode !== "PKI" && (opts.user === undefined || opts.password === undefined)) {
      throw new AerobakError(
        "CONFIG_INVALID",
        `Authentication mode ${opts.mode} needs a user and a password`,
      );
    }
    this.#opts = opts;
  }

  /** Whether the server said security is not enabled (logins are then skipped). */
  get securityDisabled(): boolean {
    return this.#securityDisabled;
  }

  /**
   * Authenticates a fresh connection: AUTHENTICATE with the node's session token while it
   * is valid, else a full LOGIN that renews the token.
   *
   * @param conn A fresh connection.
   * @param session The node's session.
   * @throws {AerobakError} `AUTH_FAILED` with the server's result code (e.g. 60 invalid
   *   user, 62 invalid password); transport errors.
   */
  async authenticate(conn: Connection, session: SessionHolder): Promise<void> {
    if (this.#securityDisabled) return;
    if (session.sessionToken !== null && Date.now() < session.sessionExpires) {
      const user = this.#opts.mode === "PKI" ? undefined : this.#opts.user;
      const rc = await this.#exchange(
        conn,
        "authenticate",
        encodeAuthenticateRequest(user, session.sessionToken),
      );
      if (rc === ResultCode.OK || rc === ResultCode.SECURITY_NOT_ENABLED) {
        conn.authenticated = true;
        return;
      }
      if (rc !== ResultCode.EXPIRED_SESSION && rc !== ResultCode.INVALID_CREDENTIAL) {
        throw this.#failed(conn, "authenticate", rc);
      }
      // The token expired early (node restarted, session TTL changed): log in again.
      session.sessionToken = null;
    }
    await this.#login(conn, session);
  }

  async #login(conn: Connection, session: SessionHolder): Promise<void> {
    if (this.#opts.mode !== "PKI" && this.#credential === undefined) {
      // bcrypt takes ~100 ms: once per cluster, not per connection.
      this.#credential = hashPassword(this.#opts.password!);
    }
    const request = encodeLoginRequest({
      mode: this.#opts.mode,
      user: this.#opts.user,
      password: this.#opts.password,
      credential: this.#credential,
    });
    conn.begin("login");
    const limits = readLimits(this.#opts.loginTimeoutMs, this.#opts.loginTimeoutMs);
    const frame = await conn.request(request, ProtoType.ADMIN, limits);
    let reply;
    try {
      reply = decodeLoginReply(frame.body);
    } catch (err) {
      throw conn.error("PROTO_INVALID", `invalid login reply: ${(err as Error).message}`, {
        cause: err,
      });
    }
    if (reply.resultCode === ResultCode.SECURITY_NOT_ENABLED) {
      this.#securityDisabled = true;
      conn.authenticated = true;
      return;
    }
    if (reply.resultCode !== ResultCode.OK) throw this.#failed(conn, "login", reply.resultCode);
    if (reply.sessionToken === undefined) {
      throw conn.error("PROTO_INVALID", "login reply has no session token");
    }
    const ttlMs = (reply.sessionTtl ?? 24 * 3600) * 1000;
    session.sessionToken = reply.sessionToken;
    session.sessionExpires = Date.now() +
      (ttlMs > 2 * TOKEN_MARGIN_MS ? ttlMs - TOKEN_MARGIN_MS : ttlMs / 2);
    conn.authenticated = true;
  }

  async #exchange(conn: Connection, what: string, request: Uint8Array): Promise<number> {
    conn.begin(what);
    const limits = readLimits(this.#opts.loginTimeoutMs, this.#opts.loginTimeoutMs);
    const frame = await conn.request(request, ProtoType.ADMIN, limits);
    try {
      return decodeAdminMessage(frame.body).resultCode;
    } catch (err) {
      throw conn.error("PROTO_INVALID", `invalid ${what} reply: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  #failed(conn: Connection, what: string, rc: number): AerobakError {
    const user = this.#opts.mode === "PKI" ? "the client certificate" : `user "${this.#opts.user}"`;
    return conn.error(
      "AUTH_FAILED",
      `${what} as ${user} refused: server returned ${rc} ${resultCodeName(rc)}`,
      { resultCode: rc },
    );
  }
}
