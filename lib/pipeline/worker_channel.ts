/**
 * Calls between a job's main thread and its Web Workers: each side registers handlers by
 * name, calls the other side's (a promise of its result, or of its error) or notifies it
 * (no answer). Errors cross as data and come back as {@linkcode AerobakError}s with their
 * code, node, location and result code, so a worker's failure reads as it would in the
 * main thread. Byte buffers can be transferred instead of copied.
 *
 * @module
 */

import { AerobakError, type AerobakErrorOptions } from "../errors.ts";

/** What a channel sends on: a `Worker`, or a worker's own global scope. */
export interface MessageEndpoint {
  /**
   * Sends a message.
   *
   * @param message Structured-cloneable data.
   * @param transfer Buffers to move rather than copy.
   */
  postMessage(message: unknown, transfer?: Transferable[]): void;
}

/**
 * A handler's result whose buffers move back to the caller instead of being copied.
 *
 * @example Hand a buffer back
 * ```ts
 * import { Transfer } from "./worker_channel.ts";
 * const buffer = new ArrayBuffer(8);
 * const result = new Transfer(buffer, [buffer]);
 * console.log(result.value === buffer); // true
 * ```
 */
export class Transfer {
  /**
   * @param value The result.
   * @param transfer Its buffers to move.
   */
  constructor(readonly value: unknown, readonly transfer: Transferable[]) {}
}

/**
 * A handler of calls of one name.
 *
 * @param args The call's arguments.
 * @returns The result (or a promise of it).
 */
export type CallHandler = (args: unknown) => unknown;

/** An error as data: an {@linkcode AerobakError}'s code and details, or an error's message. */
export interface ErrorData extends Omit<AerobakErrorOptions, "cause"> {
  /** The error's `name`. */
  name: string;
  /** Its message. */
  message: string;
  /** `AerobakError.code`, when it was one. */
  code?: string;
}

/**
 * Turns an error into data that crosses a worker boundary.
 *
 * @param err What was thrown.
 * @returns Its data.
 */
export function errorToData(err: unknown): ErrorData {
  if (err instanceof AerobakError) {
    return {
      name: err.name,
      message: err.message,
      code: err.code,
      node: err.node,
      location: err.location,
      record: err.record,
      resultCode: err.resultCode,
      retriable: err.retriable,
      inDoubt: err.inDoubt,
    };
  }
  if (err instanceof Error) return { name: err.name, message: err.message };
  return { name: "Error", message: String(err) };
}

/**
 * Rebuilds an error from its data.
 *
 * @param data The data.
 * @returns An {@linkcode AerobakError} when it was one, else an `Error` of the same name.
 */
export function errorFromData(data: ErrorData): Error {
  if (data.code !== undefined) {
    return new AerobakError(data.code, data.message, {
      node: data.node,
      location: data.location,
      record: data.record,
      resultCode: data.resultCode,
      retriable: data.retriable,
      inDoubt: data.inDoubt,
    });
  }
  const e = new Error(data.message);
  e.name = data.name;
  return e;
}

interface CallMessage {
  channel: "call";
  id: number;
  method: string;
  args: unknown;
}

interface NotifyMessage {
  channel: "notify";
  method: string;
  args: unknown;
}

interface ReplyMessage {
  channel: "reply";
  id: number;
  result?: unknown;
  error?: ErrorData;
}

type ChannelMessage = CallMessage | NotifyMessage | ReplyMessage;

/** One side of the calls between a main thread and a worker. */
export class WorkerChannel {
  readonly #endpoint: MessageEndpoint;
  readonly #handlers: Map<string, CallHandler>;
  readonly #pending = new Map<number, { resolve(v: unknown): void; reject(e: unknown): void }>();
  #nextId = 1;
  #closedWith: unknown;

  /**
   * Creates the channel; feed it the messages that arrive with {@linkcode receive}.
   *
   * @param endpoint Where messages go.
   * @param handlers The calls and notifications this side answers, by name.
   */
  constructor(endpoint: MessageEndpoint, handlers: Record<string, CallHandler>) {
    this.#endpoint = endpoint;
    this.#handlers = new Map(Object.entries(handlers));
  }

  /**
   * Calls the other side.
   *
   * @param method Its handler's name.
   * @param args Arguments (structured-cloneable).
   * @param transfer Buffers of `args` to move rather than copy.
   * @returns The handler's result.
   * @throws The handler's error, rebuilt; the reason the channel was closed.
   */
  call(method: string, args?: unknown, transfer: Transferable[] = []): Promise<unknown> {
    if (this.#closedWith !== undefined) return Promise.reject(this.#closedWith);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      this.#endpoint.postMessage({ channel: "call", id, method, args }, transfer);
    });
  }

  /**
   * Tells the other side something; no answer comes back.
   *
   * @param method Its handler's name.
   * @param args Arguments.
   * @param transfer Buffers to move.
   */
  notify(method: string, args?: unknown, transfer: Transferable[] = []): void {
    if (this.#closedWith !== undefined) return;
    this.#endpoint.postMessage({ channel: "notify", method, args }, transfer);
  }

  /**
   * Handles a message that arrived (a `message` event's `data`).
   *
   * @param data The message.
   * @returns Whether it was a channel message.
   */
  receive(data: unknown): boolean {
    const m = data as ChannelMessage;
    if (typeof m !== "object" || m === null || !("channel" in m)) return false;
    if (m.channel === "reply") {
      const p = this.#pending.get(m.id);
      if (p === undefined) return true;
      this.#pending.delete(m.id);
      if (m.error !== undefined) p.reject(errorFromData(m.error));
      else p.resolve(m.result);
      return true;
    }
    const handler = this.#handlers.get(m.method);
    if (m.channel === "notify") {
      handler?.(m.args);
      return true;
    }
    const reply = (msg: Omit<ReplyMessage, "channel" | "id">) => {
      if (this.#closedWith !== undefined) return;
      if (msg.result instanceof Transfer) {
        const { value, transfer } = msg.result;
        this.#endpoint.postMessage({ channel: "reply", id: m.id, result: value }, transfer);
      } else {
        this.#endpoint.postMessage({ channel: "reply", id: m.id, ...msg });
      }
    };
    if (handler === undefined) {
      reply({ error: errorToData(new Error(`No handler for "${m.method}"`)) });
      return true;
    }
    try {
      Promise.resolve(handler(m.args)).then(
        (result) => reply({ result }),
        (err) => reply({ error: errorToData(err) }),
      );
    } catch (err) {
      reply({ error: errorToData(err) });
    }
    return true;
  }

  /**
   * Fails every call still waiting for an answer and refuses new ones (the other side is
   * gone).
   *
   * @param reason What the waiting calls reject with.
   */
  close(reason: unknown): void {
    if (this.#closedWith !== undefined) return;
    this.#closedWith = reason;
    for (const p of this.#pending.values()) p.reject(reason);
    this.#pending.clear();
  }
}
