/**
 * The file readers of an ASB restore (and of a verify, which reads files the same way):
 * files taken in turn by parallel readers, each decrypted, decompressed and decoded, every
 * record checked against the namespace mapping. Each file can be reported once read
 * (its stored bytes' SHA-256 and counts, to check it against a manifest) and tracked for a
 * resumable restore (tokens tagged with their file and offset, files already restored
 * skipped, a file in progress resumed from its saved offset).
 *
 * @module
 */

import { AerobakError, type FileLocation, formatLocation } from "../errors.ts";
import { type AsbDecoder, decodeAsb } from "../format/asb/decoder.ts";
import type { AsbToken } from "../format/asb/parser.ts";
import { openReadChain, type ReadChain } from "../io/file_chain.ts";
import type { StorageEntry, StorageReader } from "../io/storage.ts";
import { type PipeReader, withReady } from "../pipeline/pipe.ts";
import type { LeakyBucket } from "../pipeline/rate_limiter.ts";
import type { RestoreConfig } from "./config.ts";
import type { FileReadResult } from "./manifest_check.ts";
import type { RestoreTracker, TrackedToken } from "./state.ts";
import type { RestoreCounters } from "./stats.ts";

/** What the file readers of one job share. */
export interface AsbReading {
  /** Where the files are. */
  storage: StorageReader;
  /** The files, in the order they are taken. */
  entries: readonly StorageEntry[];
  /** The job's configuration (compression, namespace mapping). */
  config: Readonly<RestoreConfig>;
  /** AES key of encrypted files. */
  encryptionKey?: Uint8Array;
  /** Bytes read from closed files go to `closedBytes`. */
  counters: RestoreCounters;
  /** The read chains open now (the job's byte count between files). */
  open: Set<ReadChain>;
  /** Bandwidth limit on the bytes read. */
  bandwidth?: LeakyBucket;
  /** Called with each file read to its end. */
  onFileRead?: (result: FileReadResult) => void;
  /** A resumable restore's tracker. */
  resume?: RestoreTracker;
}

/** A file being decoded. */
interface OpenFile {
  decoder: AsbDecoder;
  path: string;
  /** Slot in the resume tracker; -1 when untracked. */
  slot: number;
  records: number;
  sindexes: number;
  udfs: number;
}

function namespaceMismatch(found: string, source: string, location: FileLocation): AerobakError {
  return new AerobakError(
    "NAMESPACE_MISMATCH",
    `Cannot restore the record ending at ${formatLocation(location)}: its namespace ${found} ` +
      `is not the source namespace ${source} of the namespace mapping`,
    { location },
  );
}

/**
 * Builds `min(parallel, files)` readers that take the files in turn.
 *
 * @param r What they share.
 * @returns The readers (none without files).
 */
export function asbFileReaders(r: AsbReading): PipeReader<AsbToken>[] {
  const { config, entries, bandwidth, resume } = r;
  let next = 0;
  // Checked here, not only in the processors, to name the file and line; counted for the
  // file's report, tagged for the resume tracker.
  const accept = (token: AsbToken, f: OpenFile) => {
    if (token.kind === "record") {
      f.records++;
      if (config.namespace && token.record.namespace !== config.namespace.source) {
        throw namespaceMismatch(token.record.namespace, config.namespace.source, {
          file: f.path,
          line: f.decoder.line - 1,
        });
      }
    } else if (token.kind === "sindex") f.sindexes++;
    else f.udfs++;
    if (f.slot >= 0) {
      const t = token as TrackedToken;
      t.file = f.slot;
      t.end = f.decoder.offset;
    }
  };
  const readers: PipeReader<AsbToken>[] = [];
  const count = Math.max(1, Math.min(config.parallel, entries.length));
  for (let i = 0; i < count && entries.length > 0; i++) {
    // The file being decoded, while the generator waits at its `yield`: the pipe takes the
    // tokens already buffered straight from its decoder (not with a bandwidth limit, which
    // counts bytes between tokens).
    let current: OpenFile | undefined;
    const tokens = async function* (): AsyncGenerator<AsbToken> {
      while (next < entries.length) {
        const entry = entries[next++];
        const start = resume ? resume.startFile(entry.name) : { slot: -1, skipTo: 0 };
        if (start === null) continue; // restored by an earlier run
        const chain = openReadChain(await r.storage.open(entry), {
          compression: config.compression,
          encryptionKey: r.encryptionKey,
          file: entry.path,
          checkHeader: "asb",
          sha256: r.onFileRead !== undefined,
        });
        r.open.add(chain);
        const decoder = decodeAsb(chain.readable, { file: entry.path });
        const f: OpenFile = {
          decoder,
          path: entry.path,
          slot: start.slot,
          records: 0,
          sindexes: 0,
          udfs: 0,
        };
        let offset = 0;
        try {
          for await (const token of decoder) {
            // Entities up to the saved offset were restored by an earlier run.
            if (decoder.offset <= start.skipTo) continue;
            accept(token, f);
            if (bandwidth) {
              const wait = bandwidth.wait(decoder.offset - offset);
              offset = decoder.offset;
              if (wait) await wait;
            } else current = f;
            yield token;
          }
          r.counters.filesRead++;
        } finally {
          current = undefined;
          r.open.delete(chain);
          r.counters.closedBytes += chain.bytesRead();
        }
        r.onFileRead?.(fileReadResult(entry, chain, f));
        if (start.slot >= 0) resume!.fileRead(start.slot);
      }
    };
    readers.push(() =>
      withReady(tokens(), () => {
        const c = current;
        const token = c?.decoder.nextReady();
        if (token !== undefined) accept(token, c!);
        return token;
      })
    );
  }
  return readers;
}

/**
 * What reading a file found, once its chain has read it to the end.
 *
 * @param entry The file.
 * @param chain Its read chain (opened with `sha256`).
 * @param counts What it held.
 * @returns The result.
 */
export function fileReadResult(
  entry: StorageEntry,
  chain: ReadChain,
  counts: Pick<FileReadResult, "records" | "sindexes" | "udfs">,
): FileReadResult {
  return {
    name: entry.name,
    path: entry.path,
    size: chain.bytesRead(),
    sha256: chain.sha256()!,
    records: counts.records,
    sindexes: counts.sindexes,
    udfs: counts.udfs,
  };
}
