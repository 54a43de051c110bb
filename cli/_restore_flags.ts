/**
 * The flags of `asrestore` (cli-flags.md §2), grouped as `--help` prints them.
 *
 * @module
 */

import type { FlagSpec } from "./_flags.ts";
import { jobFlag, toolFlags, transferFlags } from "./_job_flags.ts";
import { shardFlags } from "./_shard_flags.ts";

const flag = jobFlag("restore");

/** The restore flags proper. */
const RESTORE_GROUP: readonly FlagSpec[] = [
  flag(
    "directory",
    "d",
    "string",
    "",
    "The directory that holds the backup files. Required, unless --input-file is used.",
  ),
  flag(
    "namespace",
    "n",
    "string",
    "",
    "Used to restore to a different namespace. Example: source-ns,destination-ns",
    { valueName: "<source>[,<destination>]" },
  ),
  flag(
    "set-list",
    "s",
    "string",
    "",
    "Only restore the given sets from the backup.\nDefault: restore all sets.",
    { valueName: "<set 1>[,<set 2>[,...]]", yamlList: true },
  ),
  flag(
    "bin-list",
    "B",
    "string",
    "",
    "Only restore the given bins in the backup.\nDefault: restore all bins.",
    { valueName: "<bin 1>[,<bin 2>[,...]]", yamlList: true },
  ),
  flag("no-records", "R", "bool", false, "Don't restore any records."),
  flag("no-indexes", "I", "bool", false, "Don't restore any secondary indexes."),
  flag("no-udfs", undefined, "bool", false, "Don't restore any UDFs."),
  flag(
    "parallel",
    "w",
    "int",
    0,
    "The number of restore threads (1 to 1024). 0 = the number of CPUs.",
  ),
  flag(
    "records-per-second",
    "L",
    "int",
    0,
    "Limit total returned records per second (rps).\nDo not apply rps limit if records-per-second is zero.",
  ),
  flag(
    "total-timeout",
    undefined,
    "int",
    10000,
    "Total transaction timeout in milliseconds. 0 - no timeout.",
  ),
  ...transferFlags(
    "restore",
    "Throttles write operations to the backup file(s) to not exceed the given bandwidth in MiB/s.",
  ),
  flag(
    "input-file",
    "i",
    "string",
    "",
    "Restore from a single backup file. Use - for stdin.\nRequired, unless --directory or --directory-list is used.",
  ),
  flag(
    "directory-list",
    undefined,
    "string",
    "",
    "A comma-separated list of paths to directories that hold the backup files. Required,\n" +
      "unless -i or -d is used. The paths may not contain commas.\nExample: 'asrestore --directory-list /path/to/dir1/,/path/to/dir2'",
    { yamlList: true },
  ),
  flag(
    "parent-directory",
    undefined,
    "string",
    "",
    "A common root path for all paths used in --directory-list.\nThis path is prepended to all entries in --directory-list.",
  ),
  flag(
    "unique",
    "u",
    "bool",
    false,
    "Skip modifying records that already exist in the namespace.",
  ),
  flag(
    "replace",
    "r",
    "bool",
    false,
    "Fully replace records that already exist in the namespace.\nThis option still performs a generation check by default.",
  ),
  flag(
    "no-generation",
    "g",
    "bool",
    false,
    "Don't check the generation of records that already exist in the namespace.",
  ),
  flag(
    "ignore-record-error",
    undefined,
    "bool",
    false,
    "Ignore permanent record specific error. e.g AEROSPIKE_RECORD_TOO_BIG.\n" +
      "By default such errors are not ignored and asrestore terminates.",
  ),
  flag(
    "disable-batch-writes",
    undefined,
    "bool",
    false,
    "Disables the use of batch writes when restoring records to the Aerospike cluster.",
  ),
  flag(
    "max-async-batches",
    undefined,
    "int",
    32,
    "The max number of outstanding async record batch write calls at a time.",
  ),
  flag(
    "warm-up",
    undefined,
    "int",
    0,
    "Warm Up fills the connection pool with connections for all nodes.\n" +
      "By default it is calculated as (--max-async-batches + 1).",
  ),
  flag(
    "batch-size",
    undefined,
    "int",
    128,
    "The max allowed number of records to simultaneously write in one batch.",
  ),
  flag(
    "extra-ttl",
    undefined,
    "int",
    0,
    "For records with expirable void-times, add N seconds of extra-ttl to the\nrecorded void-time.",
  ),
  flag(
    "retry-base-interval",
    undefined,
    "int",
    150,
    "Set the initial delay between retry attempts in milliseconds.",
  ),
  flag(
    "retry-multiplier",
    undefined,
    "float",
    2,
    "retry-multiplier is used to increase the delay between subsequent retry attempts.",
  ),
  flag(
    "retry-max-attempts",
    undefined,
    "uint",
    6,
    "Set the maximum number of attempts of a failed write (0 = one attempt).\n" +
      "The defaults wait 150, 300, 600, 1200 and 2400 ms between 6 attempts, riding out a\n" +
      "node's death as the C asrestore does; a write that got no answer goes to the\n" +
      "partition's next replica.",
  ),
  flag(
    "validate",
    undefined,
    "bool",
    false,
    "Validate backup files without restoring. With the backup's manifest, also check that\n" +
      "every file is there, whole and unchanged (size, SHA-256, counts) and no other is.",
  ),
  flag(
    "verify",
    undefined,
    "bool",
    false,
    "Compare the backup with the live cluster and write nothing: batch-read every record\n" +
      "by digest and count it identical, changed since the backup, different or missing.\n" +
      "Exits 1 when a record is different or missing.",
  ),
  flag(
    "verify-extra",
    undefined,
    "bool",
    false,
    "With --verify: also scan the cluster (within the backup's filters and time window)\n" +
      "for records the backup lacks.",
  ),
  flag(
    "modified-before",
    undefined,
    "string",
    "",
    "With --verify: records the cluster last updated at or after this time count as\n" +
      "changed since the backup. Default: the backup's start, from its manifest (to verify\n" +
      "a restored copy, give a time after the restore).",
    { valueName: "<YYYY-MM-DD_HH:MM:SS>" },
  ),
  flag(
    "state-file-dst",
    undefined,
    "string",
    "",
    "Name of a state file saved in the backup directory (or beside --input-file) every\n" +
      "few seconds and when a file is done: the files restored and, in each other file,\n" +
      "how far the cluster acknowledged every record. Continue with --continue.",
  ),
  flag(
    "continue",
    undefined,
    "string",
    "",
    "Resumes an interrupted restore from its state file (in the backup directory): files\n" +
      "done are skipped, the others resume where the cluster acknowledged every record.\n" +
      "--continue and --state-file-dst are mutually exclusive.",
  ),
  flag(
    "apply-metadata-last",
    undefined,
    "bool",
    false,
    "Defines when to restore metadata (secondary indexes and UDFs).\n" +
      "If set to true, metadata will be restored after all records have been processed.",
  ),
  flag(
    "mode",
    undefined,
    "string",
    "auto",
    "The file format to restore: asb, asbx (XDR backups) or auto.\n" +
      "auto restores ASBX when the input holds .asbx files and no .asb files, else ASB.",
    { valueName: "auto|asb|asbx" },
  ),
  ...shardFlags("restore"),
  flag(
    "allow-partial",
    undefined,
    "bool",
    false,
    "Restore a sharded backup some of whose shards are missing or unfinished (only the\n" +
      "shards there are restored). Without it such a restore is refused.",
  ),
];

/** Every flag of `asrestore`, in `--help` order. */
export const RESTORE_FLAGS: readonly FlagSpec[] = toolFlags("restore", RESTORE_GROUP);
