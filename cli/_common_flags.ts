/**
 * Flags both CLIs share (cli-flags.md §1): general, Aerospike client, compression,
 * encryption and Secret Agent flags, with backup-go's long names, shorthands and defaults.
 *
 * @module
 */

import type { FlagSpec } from "./_flags.ts";

const GENERAL = "General Flags";
const CLIENT = "Aerospike Client Flags";
const COMPRESSION = "Compression Flags";
const ENCRYPTION = "Encryption Flags";
const SECRET_AGENT = "Secret Agent Flags";

/** Password forms accepted by `--password` and `--tls-keyfile-password`. */
const PASSWORD_FORMS =
  "env-b64:<env-var>, b64:<b64-pass>, file:<pass-file>, env:<env-var>, or <clear-pass>";

/** General flags: help, version, logging, config file. */
export const GENERAL_FLAGS: readonly FlagSpec[] = [
  {
    long: "help",
    short: "Z",
    type: "bool",
    default: false,
    group: GENERAL,
    help: "Display help information.",
  },
  {
    long: "version",
    short: "V",
    type: "bool",
    default: false,
    group: GENERAL,
    help: "Display version information.",
  },
  {
    long: "verbose",
    short: "v",
    type: "bool",
    default: false,
    group: GENERAL,
    help: "Enable more detailed logging.",
    yaml: "app.verbose",
  },
  {
    long: "log-level",
    type: "string",
    default: "debug",
    group: GENERAL,
    help: "Determine log level for --verbose output. Log levels are: debug, info, warn, error.",
    yaml: "app.log-level",
  },
  {
    long: "log-json",
    type: "bool",
    default: false,
    group: GENERAL,
    help: "Set output in JSON format for parsing by external tools.",
    yaml: "app.log-json",
  },
  {
    long: "config",
    type: "string",
    default: "",
    group: GENERAL,
    valueName: "path",
    help: "Path to YAML configuration file. If set, all other flags are ignored.",
  },
];

/** Aerospike client flags: seeds, authentication, TLS, client timeouts. */
export const CLIENT_FLAGS: readonly FlagSpec[] = [
  {
    long: "host",
    short: "h",
    type: "string",
    default: "127.0.0.1",
    group: CLIENT,
    valueName: "host[:tls-name][:port][,...]",
    help: "The Aerospike host.",
  },
  {
    long: "port",
    short: "p",
    type: "int",
    default: 3000,
    group: CLIENT,
    help: "The default Aerospike port.",
  },
  {
    long: "user",
    short: "U",
    type: "string",
    default: "",
    group: CLIENT,
    help: "The Aerospike user to use to connect to the Aerospike cluster.",
    yaml: "cluster.user",
  },
  {
    long: "password",
    short: "P",
    type: "string",
    default: "",
    group: CLIENT,
    valueName: "password",
    help: `The Aerospike password to use to connect to the Aerospike cluster:\n${PASSWORD_FORMS}.`,
    yaml: "cluster.password",
  },
  {
    long: "auth",
    type: "string",
    default: "INTERNAL",
    group: CLIENT,
    valueName: "INTERNAL,EXTERNAL,PKI",
    help: "The authentication mode used by the Aerospike server. INTERNAL uses standard\n" +
      "user/pass. EXTERNAL uses external methods (like LDAP) which are configured on the\n" +
      "server; it requires TLS. PKI allows TLS authentication and authorization based on a\n" +
      "certificate; no user name needs to be configured.",
    yaml: "cluster.auth",
  },
  {
    long: "tls-enable",
    type: "bool",
    default: false,
    group: CLIENT,
    help: "Enable TLS authentication with Aerospike. If false, other TLS options are ignored.",
    yaml: "cluster.tls.enable",
  },
  {
    long: "tls-name",
    type: "string",
    default: "",
    group: CLIENT,
    help: "The server TLS context to use to authenticate the connection to Aerospike.",
    yaml: "cluster.tls.name",
  },
  {
    long: "tls-cafile",
    type: "string",
    default: "",
    group: CLIENT,
    valueName: "env-b64:<cert>,b64:<cert>,<cert-file-name>",
    help: "The CA used when connecting to Aerospike.",
    yaml: "cluster.tls.cafile",
  },
  {
    long: "tls-capath",
    type: "string",
    default: "",
    group: CLIENT,
    valueName: "<cert-path-name>",
    help: "A path containing CAs for connecting to Aerospike.",
    yaml: "cluster.tls.capath",
  },
  {
    long: "tls-certfile",
    type: "string",
    default: "",
    group: CLIENT,
    valueName: "env-b64:<cert>,b64:<cert>,<cert-file-name>",
    help: "The certificate file for mutual TLS authentication with Aerospike.",
    yaml: "cluster.tls.certfile",
  },
  {
    long: "tls-keyfile",
    type: "string",
    default: "",
    group: CLIENT,
    valueName: "env-b64:<cert>,b64:<cert>,<cert-file-name>",
    help: "The key file used for mutual TLS authentication with Aerospike.",
    yaml: "cluster.tls.keyfile",
  },
  {
    long: "tls-keyfile-password",
    type: "string",
    default: "",
    group: CLIENT,
    valueName: "password",
    help: `The password used to decrypt the key file if encrypted:\n${PASSWORD_FORMS}.`,
    yaml: "cluster.tls.keyfile-password",
  },
  {
    long: "tls-protocols",
    type: "string",
    default: "+TLSv1.2",
    group: CLIENT,
    valueName: "<TLS protocol>",
    help: "Set the TLS protocol selection criteria. This format is the same as Apache's\n" +
      "SSLProtocol documented at https://httpd.apache.org/docs/current/mod/mod_ssl.html#sslprotocol.",
    yaml: "cluster.tls.protocols",
  },
  {
    long: "services-alternate",
    type: "bool",
    default: false,
    group: CLIENT,
    help: 'Determines if the client should use "services-alternate" instead of "services"\n' +
      "in info request during cluster tending.",
    yaml: "cluster.services-alternate",
  },
  {
    long: "client-timeout",
    type: "int",
    default: 30000,
    group: CLIENT,
    help: "Initial host connection timeout duration. The timeout when opening a connection\n" +
      "to the server host for the first time.",
    yaml: "cluster.client-timeout",
  },
  {
    long: "client-idle-timeout",
    type: "int",
    default: 0,
    group: CLIENT,
    help: "Idle timeout. Every time a connection is used, its idle deadline will be extended\n" +
      "by this duration. When this deadline is reached, the connection will be closed and\n" +
      "discarded from the connection pool. The value is limited to 24 hours (86400s).",
    yaml: "cluster.client-idle-timeout",
  },
  {
    long: "client-login-timeout",
    type: "int",
    default: 10000,
    group: CLIENT,
    help: "Specifies the login operation timeout for external authentication methods such as LDAP.",
    yaml: "cluster.client-login-timeout",
  },
];

/**
 * Compression flags.
 *
 * @param restore Whether for asrestore (wording: must match the backup).
 * @returns The flags.
 */
export function compressionFlags(restore: boolean): FlagSpec[] {
  return [
    {
      long: "compress",
      short: "z",
      type: "string",
      default: "NONE",
      group: COMPRESSION,
      valueName: "NONE,ZSTD",
      help: restore
        ? "Enables decompressing of backup files using the specified compression algorithm.\n" +
          "This must match the compression mode used when backing up the data."
        : "Enables compressing of backup files using the specified compression algorithm.\n" +
          "Supported compression algorithms are: ZSTD, NONE.",
      yaml: "compression.compress",
    },
    {
      long: "compression-level",
      type: "int",
      default: 3,
      group: COMPRESSION,
      help: "Compression level.",
      yaml: "compression.level",
    },
  ];
}

/**
 * Encryption flags.
 *
 * @param restore Whether for asrestore (wording: must match the backup).
 * @returns The flags.
 */
export function encryptionFlags(restore: boolean): FlagSpec[] {
  return [
    {
      long: "encrypt",
      type: "string",
      default: "NONE",
      group: ENCRYPTION,
      valueName: "NONE,AES128,AES256",
      help: restore
        ? "Enables decryption of backup files using the specified encryption algorithm.\n" +
          "This must match the encryption mode used when backing up the data.\n" +
          "A private key must be given, either via the --encryption-key-file option or\n" +
          "the --encryption-key-env option or the --encryption-key-secret."
        : "Enables encryption of backup files using the specified encryption algorithm.\n" +
          "Supported encryption algorithms are: NONE, AES128, AES256.\n" +
          "A private key must be given, either via the --encryption-key-file option or\n" +
          "the --encryption-key-env option or the --encryption-key-secret.",
      yaml: "encryption.encrypt",
    },
    {
      long: "encryption-key-file",
      type: "string",
      default: "",
      group: ENCRYPTION,
      valueName: "path",
      help: "Grabs the encryption key from the given file, which must be in PEM format.",
      yaml: "encryption.key-file",
    },
    {
      long: "encryption-key-env",
      type: "string",
      default: "",
      group: ENCRYPTION,
      valueName: "env-var",
      help: "Grabs the encryption key from an environment variable, which must be base-64 encoded.",
      yaml: "encryption.key-env",
    },
    {
      long: "encryption-key-secret",
      type: "string",
      default: "",
      group: ENCRYPTION,
      valueName: "secrets:<resource>:<key>",
      help: "Grabs the encryption key from secret-agent.",
      yaml: "encryption.key-secret",
    },
  ];
}

/** Secret Agent flags. */
export const SECRET_AGENT_FLAGS: readonly FlagSpec[] = [
  {
    long: "sa-connection-type",
    type: "string",
    default: "TCP",
    group: SECRET_AGENT,
    valueName: "TCP,UNIX",
    help: "Secret Agent connection type, supported types: TCP, UNIX.",
    yaml: "secret-agent.connection-type",
  },
  {
    long: "sa-address",
    type: "string",
    default: "",
    group: SECRET_AGENT,
    help: "Secret Agent host for TCP connection or socket file path for UDS connection.",
    yaml: "secret-agent.address",
  },
  {
    long: "sa-port",
    type: "int",
    default: 0,
    group: SECRET_AGENT,
    help: "Secret Agent port (only for TCP connection).",
    yaml: "secret-agent.port",
  },
  {
    long: "sa-timeout",
    type: "int",
    default: 10000,
    group: SECRET_AGENT,
    help: "Secret Agent connection and reading timeout.",
    yaml: "secret-agent.timeout",
  },
  {
    long: "sa-ca-file",
    type: "string",
    default: "",
    group: SECRET_AGENT,
    valueName: "path",
    help: "Path to ca file for encrypted connections.",
    yaml: "secret-agent.ca-file",
  },
  {
    long: "sa-tls-name",
    type: "string",
    default: "",
    group: SECRET_AGENT,
    help: "TLS name (SNI) for encrypted connections.",
    yaml: "secret-agent.tls-name",
  },
  {
    long: "sa-cert-file",
    type: "string",
    default: "",
    group: SECRET_AGENT,
    valueName: "path",
    help: "Path to a client certificate file for mutual TLS authentication.",
    yaml: "secret-agent.cert-file",
  },
  {
    long: "sa-key-file",
    type: "string",
    default: "",
    group: SECRET_AGENT,
    valueName: "path",
    help: "Path to a client key file for mutual TLS authentication.",
    yaml: "secret-agent.key-file",
  },
  {
    long: "sa-is-base64",
    type: "bool",
    default: false,
    group: SECRET_AGENT,
    help: "Whether Secret Agent responses are Base64 encoded.",
    yaml: "secret-agent.is-base64",
  },
];
