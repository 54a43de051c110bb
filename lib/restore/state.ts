/**
 * Resumable restores: which files a restore has finished and, for each file in progress,
 * the offset up to which every record has been acknowledged by the cluster, saved to a
 * state file atomically every few seconds and whenever a file finishes. A restore
 * continued from it skips the finished files and, in each other file, the records before
 * the saved offset.
 *
 * ```
 * reader ──tag (file, end offset)──▶ processors ──register──▶ writer ──hold … seal──▶ cluster
 *                                         │ dropped: covered by the next record       │
 *                                         ▼                                     release (acked)
 *                                 RestoreTracker: per file, records registered in file order;
 *                                 the offset advances over the acknowledged prefix
 * ```
 *
 * Readers tag each token with its file and the offset just past it ({@linkcode TrackedToken});
 * the last processor registers it, in file order (a reader hands one token at a time down
 * the chain, so a token it dropped is one that was never registered, and is covered once a
 * later one is acknowledged). Writers group tokens (a batch, or one put) and release a group
 * when the cluster acknowledged it; groups finish in any order, and the saved offset of a file
 * is the end of its longest prefix of acknowledged records. A process killed at any moment
 * leaves a state whose offsets only cover acknowledged records: the records after them may
 * have been written already and are written again (with `--unique` they count as existed).
 *
 * @module
 */

import { parseJsonObject } from "../_json_file.ts";
import { AerobakError } from "../errors.ts";
import type { StorageEntry, StorageWriter } from "../io/storage.ts";
import { type Clock, systemClock } from "../pipeline/clock.ts";
import type { Processor } from "../pipeline/pipe.ts";
import type { RestoreNamespaceConfig } from "./config.ts";

/** The `format` value of every restore state file. */
export const RESTORE_STATE_FORMAT = "aerobak-restore-state";

/** How often the state is saved while files are in progress, ms. */
export const RESTORE_STATE_INTERVAL_MS = 1000;

/** The content of a restore state file. */
export interface RestoreState {
  /** Always {@linkcode RESTORE_STATE_FORMAT}. */
  format: typeof RESTORE_STATE_FORMAT;
  /** Format version, 1. */
  version: 1;
  /** The backup restored: every data file with its size, by name. */
  backup: { files: { name: string; size: number }[] };
  /** The namespace mapping of the restore, when it had one. */
  namespace?: RestoreNamespaceConfig;
  /** Files whose every record (and index, UDF) has been acknowledged. */
  done: string[];
  /**
   * Files in progress: the offset in the decoded (decrypted, decompressed) file up to which
   * every entity has been acknowledged.
   */
  offsets: Record<string, number>;
  /** When the state was saved (RFC 3339). */
  savedAt: string;
}

/** Fields a reader adds to a token of a tracked file. */
export interface TrackedToken {
  /** The file's slot in its {@linkcode RestoreTracker}. */
  file?: number;
  /** Offset in the decoded file just past the token. */
  end?: number;
}

/**
 * What a writer tells the tracker of a resumable restore: it holds tokens in a group (a batch, or
 * one write), seals the group when it sends it, and releases it once the cluster
 * acknowledged every token of it.
 */
export interface WriteAcks {
  /**
   * Adds a token to the group being filled.
   *
   * @param token The token (untracked tokens are ignored).
   */
  hold(token: object): void;
  /**
   * Closes the group being filled.
   *
   * @returns Its ticket.
   */
  seal(): number;
  /**
   * Tells that every token of a group was acknowledged.
   *
   * @param ticket What {@linkcode seal} returned.
   */
  release(ticket: number): void;
}

/** Options of {@linkcode RestoreTracker.open}. */
export interface RestoreTrackerOptions {
  /** Continue from the state file instead of starting a new one. */
  continue: boolean;
  /** Every data file the restore reads (all its passes), with sizes. */
  files: readonly StorageEntry[];
  /** The restore's namespace mapping. */
  namespace?: Readonly<RestoreNamespaceConfig>;
  /**
   * Time source of the periodic saves.
   * @default {systemClock}
   */
  clock?: Clock;
  /**
   * Interval of the periodic saves, ms.
   * @default {1000}
   */
  intervalMs?: number;
  /**
   * Wall-clock time written into the state.
   * @default {() => new Date()}
   */
  now?: () => Date;
}

/** Per file: the records registered and not yet acknowledged, in file order. */
class FileTrack {
  readonly name: string;
  /** Offset up to which every entity is acknowledged. */
  acked: number;
  readDone = false;
  #ends = new Float64Array(64);
  #resolved = new Uint8Array(64);
  #head = 0;
  #tail = 0;

  constructor(name: string, acked: number) {
    this.name = name;
    this.acked = acked;
  }

  get done(): boolean {
    return this.readDone && this.#head === this.#tail;
  }

  register(end: number): void {
    if (this.#tail === this.#ends.length) this.#compact();
    this.#ends[this.#tail] = end;
    this.#resolved[this.#tail] = 0;
    this.#tail++;
  }

  /** Marks the entity ending at `end` acknowledged and advances over the acked prefix. */
  resolve(end: number): void {
    const ends = this.#ends;
    let lo = this.#head;
    let hi = this.#tail - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      if (ends[mid] < end) lo = mid + 1;
      else hi = mid - 1;
    }
    if (lo < this.#tail && ends[lo] === end) this.#resolved[lo] = 1;
    while (this.#head < this.#tail && this.#resolved[this.#head] === 1) {
      this.acked = ends[this.#head];
      this.#head++;
    }
  }

  /** Moves the pending entries to the front, growing when more than half is in use. */
  #compact(): void {
    const n = this.#tail - this.#head;
    const size = n * 2 > this.#ends.length ? this.#ends.length * 2 : this.#ends.length;
    const ends = new Float64Array(size);
    const resolved = new Uint8Array(size);
    ends.set(this.#ends.subarray(this.#head, this.#tail));
    resolved.set(this.#resolved.subarray(this.#head, this.#tail));
    this.#ends = ends;
    this.#resolved = resolved;
    this.#head = 0;
    this.#tail = n;
  }
}

/** Tokens of one sealed group: file slot and end offset of each. */
interface Group {
  files: number[];
  ends: number[];
}

/**
 * The tracker of a resumable restore: where each file resumes, which records are
 * acknowledged, and the state file that keeps it (see the module doc).
 *
 * @example Restore with a state file, then continue after a crash
 * ```ts ignore
 * const files = await Array.fromAsync(reader.list());
 * const resume = await RestoreTracker.open(storage, "restore.state", { continue: false, files });
 * await client.restore(config, reader, { resume }).wait();
 * await resume.finish(); // removes the state file
 * ```
 */
export class RestoreTracker implements WriteAcks {
  readonly #storage: StorageWriter;
  readonly #name: string;
  readonly #state: RestoreState;
  readonly #now: () => Date;
  readonly #tracks: FileTrack[] = [];
  readonly #done: Set<string>;
  readonly #groups = new Map<number, Group>();
  #open: Group = { files: [], ends: [] };
  #nextTicket = 0;
  #chain: Promise<void> = Promise.resolve();
  #saveError: unknown;
  #dirty = false;
  readonly #stop = new AbortController();

  private constructor(
    storage: StorageWriter,
    name: string,
    state: RestoreState,
    options: RestoreTrackerOptions,
  ) {
    this.#storage = storage;
    this.#name = name;
    this.#state = state;
    this.#now = options.now ?? (() => new Date());
    this.#done = new Set(state.done);
    void this.#saveEvery(
      options.clock ?? systemClock,
      options.intervalMs ?? RESTORE_STATE_INTERVAL_MS,
    );
  }

  /**
   * Starts a new state file, or reads the one to continue from and checks that it is this
   * backup's.
   *
   * @param storage Where the state file is kept (`writeAtomic` is required; `readBack` to
   *   continue).
   * @param name The state file's name.
   * @param options Continue or not, the backup's files, the namespace mapping, clock.
   * @returns The tracker (its state saved once already when new).
   * @throws {AerobakError} `STATE_INVALID` for a state file that is missing, not a state
   *   file, or of another backup or namespace mapping.
   */
  static async open(
    storage: StorageWriter,
    name: string,
    options: RestoreTrackerOptions,
  ): Promise<RestoreTracker> {
    if (storage.writeAtomic === undefined) {
      throw new AerobakError(
        "CONFIG_INVALID",
        `Cannot keep the restore state file ${name} on ${storage.describe(name)}: the storage ` +
          `cannot replace a file atomically`,
      );
    }
    const files = options.files.map((e) => ({ name: e.name, size: e.size ?? -1 }))
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    let state: RestoreState;
    if (options.continue) {
      const path = storage.describe(name);
      let bytes: Uint8Array;
      try {
        if (storage.readBack === undefined) throw new Error("the storage cannot read it back");
        bytes = await storage.readBack(name);
      } catch (e) {
        const missing = e instanceof AerobakError && e.code === "STORAGE_NOT_FOUND";
        throw new AerobakError(
          "STATE_INVALID",
          `Cannot continue the restore from ${path}: ${
            missing ? "no such state file" : (e as Error).message
          }`,
          { cause: e, location: { file: path } },
        );
      }
      state = parseRestoreState(bytes, path);
      checkSameBackup(state, files, options.namespace, path);
    } else {
      state = {
        format: RESTORE_STATE_FORMAT,
        version: 1,
        backup: { files },
        done: [],
        offsets: {},
        savedAt: "",
      };
      if (options.namespace) state.namespace = { ...options.namespace };
    }
    const tracker = new RestoreTracker(storage, name, state, options);
    if (!options.continue) await tracker.save();
    return tracker;
  }

  /** Names of the files finished (by this run or the ones before). */
  get doneFiles(): string[] {
    return [...this.#done].sort();
  }

  /**
   * A reader starts a file: tells whether to skip it and where to resume.
   *
   * @param name The file's name.
   * @returns `null` for a file already done; else its slot (to tag tokens with) and the
   *   offset up to which its entities are already restored (0 for a new file).
   */
  startFile(name: string): { slot: number; skipTo: number } | null {
    if (this.#done.has(name)) return null;
    const skipTo = this.#state.offsets[name] ?? 0;
    this.#tracks.push(new FileTrack(name, skipTo));
    return { slot: this.#tracks.length - 1, skipTo };
  }

  /**
   * A reader read a file to its end: every entity of it has been registered or dropped.
   *
   * @param slot The file's slot.
   */
  fileRead(slot: number): void {
    const track = this.#tracks[slot];
    track.readDone = true;
    this.#settled(track);
  }

  /**
   * The processor that registers tokens in file order; it must come last in the chain.
   *
   * @returns The processor.
   */
  registrar<T extends object>(): Processor<T> {
    return {
      process: (token) => {
        const t = token as TrackedToken;
        if (t.file !== undefined) this.#tracks[t.file].register(t.end!);
        return token;
      },
    };
  }

  /**
   * Tells that one token was acknowledged by itself (an index or UDF applied).
   *
   * @param token The token.
   */
  acked(token: object): void {
    const t = token as TrackedToken;
    if (t.file === undefined) return;
    const track = this.#tracks[t.file];
    track.resolve(t.end!);
    this.#settled(track);
  }

  /**
   * Adds a token to the group being filled.
   *
   * @param token The token.
   */
  hold(token: object): void {
    const t = token as TrackedToken;
    if (t.file === undefined) return;
    this.#open.files.push(t.file);
    this.#open.ends.push(t.end!);
  }

  /**
   * Closes the group being filled.
   *
   * @returns Its ticket.
   */
  seal(): number {
    const ticket = this.#nextTicket++;
    if (this.#open.files.length > 0) {
      this.#groups.set(ticket, this.#open);
      this.#open = { files: [], ends: [] };
    }
    return ticket;
  }

  /**
   * Tells that every token of a group was acknowledged.
   *
   * @param ticket What {@linkcode seal} returned.
   */
  release(ticket: number): void {
    const g = this.#groups.get(ticket);
    if (g === undefined) return;
    this.#groups.delete(ticket);
    for (let i = 0; i < g.files.length; i++) this.#tracks[g.files[i]].resolve(g.ends[i]);
    // Several groups can finish a file at once; check each file of the group once.
    let last = -1;
    for (const f of g.files) {
      if (f !== last) this.#settled(this.#tracks[f]);
      last = f;
    }
    this.#dirty = true;
  }

  /**
   * Saves the state now (atomically); saves are serialised.
   *
   * @returns Once this save is stored.
   * @throws {AerobakError} `STORAGE_WRITE` naming the state file.
   */
  save(): Promise<void> {
    const s = this.#state;
    s.done = [...this.#done].sort();
    const offsets: Record<string, number> = { ...s.offsets };
    for (const t of this.#tracks) {
      if (this.#done.has(t.name)) delete offsets[t.name];
      else if (t.acked > 0) offsets[t.name] = t.acked;
    }
    s.offsets = offsets;
    s.savedAt = this.#now().toISOString();
    const bytes = new TextEncoder().encode(JSON.stringify(s, null, 1) + "\n");
    this.#dirty = false;
    const next = this.#chain.then(() => this.#storage.writeAtomic!(this.#name, bytes));
    this.#chain = next.catch((e) => {
      this.#saveError ??= e;
    });
    return next;
  }

  /**
   * Stops the periodic saves and saves what was acknowledged (after a failure, so that the
   * run can be continued).
   *
   * @throws {AerobakError} The first failed save.
   */
  async close(): Promise<void> {
    this.#stop.abort();
    await this.save();
    if (this.#saveError !== undefined) throw this.#saveError;
  }

  /** Stops the periodic saves and removes the state file: the restore is complete. */
  async finish(): Promise<void> {
    this.#stop.abort();
    await this.#chain;
    await this.#storage.remove?.(this.#name);
  }

  #settled(track: FileTrack): void {
    if (!track.done || this.#done.has(track.name)) return;
    this.#done.add(track.name);
    // Saved at once: a finished file is never read again.
    this.save().catch(() => {});
  }

  async #saveEvery(clock: Clock, intervalMs: number): Promise<void> {
    const signal = this.#stop.signal;
    for (;;) {
      try {
        await clock.sleep(intervalMs, signal);
      } catch {
        return;
      }
      if (this.#dirty) await this.save().catch(() => {});
    }
  }
}

/**
 * Parses and checks a restore state file.
 *
 * @param bytes Its content.
 * @param path Its path, for messages.
 * @returns The state.
 * @throws {AerobakError} `STATE_INVALID` naming the file and what is wrong.
 */
export function parseRestoreState(bytes: Uint8Array, path: string): RestoreState {
  const bad = (what: string, cause?: unknown) =>
    new AerobakError("STATE_INVALID", `Invalid restore state file ${path}: ${what}`, {
      cause,
      location: { file: path },
    });
  const s = parseJsonObject(bytes, bad);
  if (s.format !== RESTORE_STATE_FORMAT) {
    throw bad(`format ${JSON.stringify(s.format)}, expected "${RESTORE_STATE_FORMAT}"`);
  }
  if (s.version !== 1) throw bad(`version ${JSON.stringify(s.version)}, expected 1`);
  const backup = s.backup as Record<string, unknown> | null;
  if (
    typeof backup !== "object" || backup === null || !Array.isArray(backup.files) ||
    backup.files.some((f) =>
      typeof f !== "object" || f === null || typeof f.name !== "string" ||
      typeof f.size !== "number"
    )
  ) {
    throw bad("backup.files malformed");
  }
  if (!Array.isArray(s.done) || s.done.some((f) => typeof f !== "string")) {
    throw bad("done malformed");
  }
  if (
    typeof s.offsets !== "object" || s.offsets === null ||
    Object.values(s.offsets).some((o) => !Number.isSafeInteger(o) || (o as number) < 0)
  ) {
    throw bad("offsets malformed");
  }
  return s as unknown as RestoreState;
}

function checkSameBackup(
  state: RestoreState,
  files: readonly { name: string; size: number }[],
  namespace: Readonly<RestoreNamespaceConfig> | undefined,
  path: string,
): void {
  const saved = new Map(state.backup.files.map((f) => [f.name, f.size]));
  const now = new Map(files.map((f) => [f.name, f.size]));
  const other = (why: string) =>
    new AerobakError(
      "STATE_INVALID",
      `Cannot continue the restore from ${path}: it is the state of another backup (${why})`,
      { location: { file: path } },
    );
  for (const [name, size] of saved) {
    if (!now.has(name)) throw other(`it lists ${name}, which this backup does not have`);
    if (now.get(name) !== size) {
      throw other(`${name} had ${size} bytes, it has ${now.get(name)} now`);
    }
  }
  for (const name of now.keys()) {
    if (!saved.has(name)) throw other(`this backup has ${name}, which it does not list`);
  }
  const a = state.namespace;
  if (
    (a?.source ?? "") !== (namespace?.source ?? "") ||
    (a?.destination ?? "") !== (namespace?.destination ?? "")
  ) {
    throw new AerobakError(
      "STATE_INVALID",
      `Cannot continue the restore from ${path}: it restored with namespace mapping ${
        a ? `${a.source},${a.destination}` : "none"
      }, this run asks for ${namespace ? `${namespace.source},${namespace.destination}` : "none"}`,
      { location: { file: path } },
    );
  }
}
