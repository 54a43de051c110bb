/**
 * The flags of `asbackup` (cli-flags.md §1), grouped as `--help` prints them.
 *
 * @module
 */

import type { FlagSpec } from "./_flags.ts";
import { jobFlag, toolFlags, transferFlags } from "./_job_flags.ts";
import { shardFlags } from "./_shard_flags.ts";

const flag = jobFlag("backup");

/** The backup flags proper. */
const BACKUP_GROUP: readonly FlagSpec[] = [
  flag(
    "directory",
    "d",
    "string",
    "",
    "The directory that holds the backup files. Required, unless -o or -e is used.",
  ),
  flag("namespace", "n", "string", "", "The namespace to be backed up. Required."),
  flag(
    "set-list",
    "s",
    "string",
    "",
    "Only include records of the given sets in the backup (one scan per set).\nDefault: all sets.",
    { valueName: "<set 1>[,<set 2>[,...]]", yamlList: true },
  ),
  flag(
    "bin-list",
    "B",
    "string",
    "",
    "Only include the given bins in the backup.\nDefault: include all bins.",
    { valueName: "<bin 1>[,<bin 2>[,...]]", yamlList: true },
  ),
  flag("no-records", "R", "bool", false, "Don't back up any records."),
  flag("no-indexes", "I", "bool", false, "Don't back up any indexes."),
  flag("no-udfs", undefined, "bool", false, "Don't back up any UDFs."),
  flag(
    "parallel",
    "w",
    "int",
    1,
    "Maximum number of scan calls to run in parallel, and of backup files written in\nparallel (1 to 1024).",
  ),
  flag(
    "workers",
    undefined,
    "int",
    -1,
    "Worker threads a directory backup's scans run in beside the main thread, each with\n" +
      "its share of the scans, their encoding, compression, encryption and files (0: the\n" +
      "main thread only). By default one thread per scan (--parallel), at most one per CPU\n" +
      "core, the main thread included.",
  ),
  flag(
    "records-per-second",
    "L",
    "int",
    0,
    "Limit total returned records per second (rps).\nDo not apply rps limit if records-per-second is zero.\n" +
      "The nodes throttle their scans (each scan's share is sent with it, as the C tool does).",
  ),
  flag(
    "max-retries",
    undefined,
    "int",
    5,
    "Maximum number of retries before aborting the current transaction.",
  ),
  flag(
    "total-timeout",
    undefined,
    "int",
    0,
    "Total transaction timeout in milliseconds. 0 - no timeout.",
  ),
  ...transferFlags(
    "backup",
    "Throttles read operations from the backup file(s) to not exceed the given I/O\nbandwidth in MiB/s.",
  ),
  flag(
    "remove-files",
    "r",
    "bool",
    false,
    "Remove an existing backup file (-o) or entire directory (-d) and replace with the new backup.",
  ),
  flag(
    "remove-artifacts",
    undefined,
    "bool",
    false,
    "Remove existing backup file (-o) or files (-d) without performing a backup.",
  ),
  flag(
    "output-file",
    "o",
    "string",
    "",
    "Backup to a single backup file. Use - for stdout. Required, unless -d or -e is used.",
  ),
  flag(
    "output-file-prefix",
    "q",
    "string",
    "",
    "When using directory parameter, prepend a prefix to the names of the generated files.",
  ),
  flag(
    "file-limit",
    "F",
    "uint",
    250,
    "Rotate backup files when their size crosses the given value (in MiB).\nOnly used when backing up to a directory.",
  ),
  flag(
    "no-bins",
    "x",
    "bool",
    false,
    "Do not include bin data in the backup. Use this flag for data sampling or troubleshooting.\n" +
      "On restore all records, that don't contain bin data will be skipped.",
  ),
  flag(
    "no-ttl-only",
    undefined,
    "bool",
    false,
    "Only include records that have no ttl set (persistent records).",
  ),
  flag(
    "after-digest",
    "D",
    "string",
    "",
    "Backup records after record digest in record's partition plus all succeeding partitions.\n" +
      "Used to resume backup with last record received from previous incomplete backup.\n" +
      "This argument is mutually exclusive with partition-list.\n" +
      "Format: Base64 encoded string. Example: EjRWeJq83vEjRRI0VniavN7xI0U=",
    { valueName: "digest" },
  ),
  flag(
    "modified-after",
    "a",
    "string",
    "",
    "Perform an incremental backup; only include records that changed after the given date\n" +
      "and time. The system's local timezone applies. If only HH:MM:SS is specified, then today's\n" +
      "date is assumed. If only YYYY-MM-DD is specified, then 00:00:00 (midnight) is assumed.",
    { valueName: "<YYYY-MM-DD_HH:MM:SS>" },
  ),
  flag(
    "modified-before",
    "b",
    "string",
    "",
    "Only include records that last changed before the given date and time.\n" +
      "May be combined with --modified-after to specify a range.",
    { valueName: "<YYYY-MM-DD_HH:MM:SS>" },
  ),
  flag(
    "filter-exp",
    "f",
    "string",
    "",
    "Base64 encoded expression. Use the encoded filter expression in each scan call,\n" +
      "which can be used to do a partial backup.",
    { valueName: "base64" },
  ),
  flag(
    "node-list",
    "l",
    "string",
    "",
    "Back up the given cluster nodes only (addresses from 'service-clear-std' or\n" +
      "'service-tls-std', or node names).\n" +
      "This argument is mutually exclusive with --partition-list, --after-digest, --rack-list,\n" +
      "--prefer-racks.",
    { valueName: "<addr 1>:<port 1>[,<addr 2>:<port 2>[,...]]", yamlList: true },
  ),
  flag(
    "partition-list",
    "X",
    "string",
    "",
    "List of partitions <filter[,<filter>[...]]> to back up. Partition filters can be ranges,\n" +
      "individual partitions, or records after a specific digest within a single partition.\n" +
      "--parallel must be at least the number of filters. Mutually exclusive with after-digest.\n" +
      "Filter: <begin partition>[-<partition count>]|<digest>\n" +
      "begin partition: 0-4095, partition count: 1-4096, digest: Base64 encoded string\n" +
      "Examples: 0-1000, 1000-1000, 2222, EjRWeJq83vEjRRI0VniavN7xI0U=\n" +
      "Default: 0-4096 (all partitions)",
    { valueName: "filters", yamlList: true },
  ),
  flag(
    "prefer-racks",
    undefined,
    "string",
    "",
    "A list of Aerospike Database rack IDs to prefer when reading records for a backup.\n" +
      "This argument is mutually exclusive with --rack-list and --node-list.",
    { valueName: "<rack id 1>[,<rack id 2>[,...]]", yamlList: true },
  ),
  flag(
    "rack-list",
    undefined,
    "string",
    "",
    "A list of Aerospike Database rack IDs to back up; only these racks are backed up.\n" +
      "This argument is mutually exclusive with --prefer-racks and --node-list.",
    { valueName: "<rack id 1>[,<rack id 2>[,...]]", yamlList: true },
  ),
  flag(
    "max-records",
    "M",
    "int",
    0,
    "The number of records approximately to back up. 0 - all records.",
  ),
  flag(
    "sleep-between-retries",
    undefined,
    "int",
    5,
    "The amount of milliseconds to sleep between retries after an error.",
  ),
  flag(
    "compact",
    "C",
    "bool",
    false,
    "Do not apply base-64 encoding to BLOBs and instead write raw binary data,\nresulting in smaller backup files.",
  ),
  flag(
    "estimate",
    "e",
    "bool",
    false,
    "Estimate the backed-up record size from a random sample of records to estimate the\n" +
      "full backup size. It ignores any filter.",
  ),
  flag(
    "estimate-samples",
    undefined,
    "int",
    10000,
    "The number of samples to take when running a backup estimate.",
  ),
  flag(
    "state-file-dst",
    undefined,
    "string",
    "",
    "Name of a state file that will be saved in backup --directory. Works only with\n" +
      "--file-limit: each time a file is closed, the current state is saved.",
  ),
  flag(
    "continue",
    "c",
    "string",
    "",
    "Resumes an interrupted/failed backup from where it was left off, given the state file\n" +
      "that was generated from the interrupted/failed run (in --directory).\n" +
      "--continue and --state-file-dst are mutually exclusive.",
  ),
  flag(
    "scan-page-size",
    undefined,
    "int",
    10000,
    "Number of records read on one iteration for a continuation backup.\nUsed only with --state-file-dst or --continue.",
  ),
  ...shardFlags("backup"),
];

/** Local storage flags (backup only). */
const LOCAL_GROUP: readonly FlagSpec[] = [
  {
    long: "local-buffer-size",
    type: "int",
    default: 5,
    group: "Local Storage Flags",
    help: "Buffer size in MiB for writing backup files to local storage.",
    yaml: "local.disk.buffer-size",
  },
];

/** Every flag of `asbackup`, in `--help` order. */
export const BACKUP_FLAGS: readonly FlagSpec[] = toolFlags("backup", BACKUP_GROUP, LOCAL_GROUP);
