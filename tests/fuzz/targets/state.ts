/**
 * Fuzz target of the backup state file (`--state-file-dst`, read back by `--continue`):
 * states of one to four readers with cursors part-way through their partitions, read as a
 * resumed backup reads them (the file, then every reader's partition cursor). Every
 * refusal must be one error naming the file.
 *
 * Restore state files (once restores are resumable) get a target of their own beside
 * this one; see `mod.ts`.
 *
 * @module
 */

import { computeDigest, keyFromJs, partitionId } from "../../../lib/aerospike/digest.ts";
import { PartitionFilter } from "../../../lib/aerospike/partition_filter.ts";
import { decodeBackupState, encodeBackupState } from "../../../lib/backup/state.ts";
import { type FuzzTarget, namesSource, STATELESS } from "../engine.ts";

const FILE = "fuzz/backup.state";

/**
 * A state of `readers` readers sharing `partitions` partitions from 0 (a backup with
 * `--partition-list 0-<n>`), each part-way through its share.
 */
function state(readers: number, partitions: number): Uint8Array {
  const share = Math.floor(partitions / readers);
  const cursors = Array.from({ length: readers }, (_, i) => {
    const count = i === readers - 1 ? partitions - i * share : share;
    const json = PartitionFilter.range(i * share, count).toJSON();
    // The first partitions are done, one stopped after a record (a digest of its own).
    for (const p of json.partitions.slice(0, Math.floor(count / 3))) p.done = true;
    const key = keyFromJs(`resume-${i}`);
    const digest = computeDigest("s", key);
    const at = json.partitions.find((p) => p.id === partitionId(digest));
    if (at) at.digest = btoa(String.fromCharCode(...digest));
    return { setIndex: i % 2, filter: json };
  });
  return encodeBackupState({
    version: 1,
    namespace: "test",
    counter: readers - 1,
    metadataDone: readers % 2 === 0,
    readers: cursors,
    openFiles: readers > 1 ? [`test_0000${readers}.asb`] : [],
  });
}

/** Backup state files. */
export const stateTarget: FuzzTarget<null> = {
  name: "state",
  about: "backup state files (--continue) with partition cursors",
  ciIterations: 600,
  ...STATELESS,
  seeds: () => Promise.resolve([state(1, 64), state(2, 256), state(4, 96)]),
  run(input) {
    const s = decodeBackupState(input, FILE);
    // What a resumed backup does with each reader's cursor.
    for (const r of s.readers) PartitionFilter.fromJSON(r.filter);
    return Promise.resolve();
  },
  judge: (err) => namesSource(err, [FILE]),
};
