// Relay configuration: command-line flags, each also settable by an environment variable.
import { LEVELS, type Level } from "./log.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { homedir } from "node:os";
import { join } from "node:path";
import { NETWORKS, type NetworkName } from "../inscribe/networks.ts";
import { ORD_ORIGIN } from "../protocol/network.ts";

export const DEFAULT_PORT = 4884;

export interface Config {
  command: "serve" | "status" | "record" | "address" | "register" | "help" | "version";
  host: string;
  port: number;
  publicIp: string | undefined;
  dataDir: string;
  logLevel: Level;
  logAddresses: boolean;
  /** Test switch: append every application-layer frame received or sent to this file. */
  recordFrames: string | undefined;
  /** Close sessions silent for this many seconds. */
  idleTimeout: number;
  /** Log counters every this many seconds (0: never). */
  statsInterval: number;
  /**
   * Bitcoin self-registration: present for `address` and `register`, and in serve mode when a
   * registration flag is given (absent otherwise, so a plain relay's config is unchanged).
   */
  register?: RegisterConfig;
  /** Overrides of the relay's limits (`--limit name=value`, repeatable). */
  limits: Partial<Limits>;
  /** Bootstrap relays for gossip (`--peer ADDR,FP`, repeatable): when given, nothing else is looked up. */
  peers: { addr: string; fp: string }[];
  /** The ord server a serving relay reads the bootstrap sat from (`--ord`; default the public origin
   *  pages use); null for none (`--ord none`). */
  ord: string | null;
}

export interface RegisterConfig {
  network: NetworkName;
  esplora: string | undefined;
  coreRpc: string | undefined;
  coreUser: string | undefined;
  /** Name of the environment variable holding the Core RPC password (never the password itself). */
  corePasswordEnv: string | undefined;
  coreCookie: string | undefined;
  ord: string | undefined;
  feeRate: number | undefined;
  postage: number;
  /** Seconds to wait for funds. */
  timeout: number;
  noWait: boolean;
  broadcast: boolean;
  /** Spend although the ord server does not index runes (inscribe/vet.ts). */
  allowUnindexedRunes: boolean;
  /** Serve mode: register in the background on start when both are set. */
  registerEsplora: string | undefined;
  registerOrd: string | undefined;
  registerNetwork: NetworkName;
}

interface Flag {
  name: keyof Config | "ord";
  env: string;
  help: string;
  arg?: string;
  bool?: boolean;
  flag?: string;
}
type RegisterFlag = Omit<Flag, "name"> & { name: keyof RegisterConfig };
// Bitcoin self-registration (relay/register.ts, docs/register.md); listed in their own section.
export const REGISTER_FLAGS: RegisterFlag[] = [
  { name: "network", env: "LUMAMESH_NETWORK", arg: "NET", help: `address/register: ${NETWORKS.join(", ")} (default mainnet)` },
  { name: "esplora", env: "LUMAMESH_ESPLORA", arg: "URL", help: "register: Esplora API to fund and broadcast through" },
  {
    name: "coreRpc",
    env: "LUMAMESH_CORE_RPC",
    arg: "URL",
    help: "register: Bitcoin Core JSON-RPC instead (its wallet must watch the address)",
  },
  { name: "coreUser", env: "LUMAMESH_CORE_USER", arg: "USER", help: "register: Core RPC user (with --core-password-env)" },
  {
    name: "corePasswordEnv",
    env: "LUMAMESH_CORE_PASSWORD_ENV",
    arg: "VAR",
    help: "register: name of the environment variable holding the Core RPC password",
  },
  { name: "coreCookie", env: "LUMAMESH_CORE_COOKIE", arg: "FILE", help: "register: Core's .cookie file instead of user/password" },
  {
    name: "feeRate",
    env: "LUMAMESH_FEE_RATE",
    arg: "SAT/VB",
    help: "register and serve: fee rate (default: the backend's 2-block estimate)",
  },
  {
    name: "postage",
    env: "LUMAMESH_POSTAGE",
    arg: "SATS",
    help: "register and serve: sats in the inscription output, 546..10000 (default 546)",
  },
  { name: "timeout", env: "LUMAMESH_REGISTER_TIMEOUT", arg: "SECONDS", help: "register: how long to wait for funds (default 3600)" },
  { name: "noWait", env: "LUMAMESH_NO_WAIT", bool: true, help: "register: show the address and cost, do not wait for funds" },
  { name: "broadcast", env: "LUMAMESH_BROADCAST", bool: true, help: "register: really send (default: dry run)" },
  {
    name: "allowUnindexedRunes",
    env: "LUMAMESH_ALLOW_UNINDEXED_RUNES",
    bool: true,
    help: "register and serve: spend although the ord server does not index runes (default: refuse)",
  },
  {
    name: "registerEsplora",
    env: "LUMAMESH_REGISTER_ESPLORA",
    arg: "URL",
    help: "serve: on start, register in the background through this Esplora when funded",
  },
  { name: "registerOrd", env: "LUMAMESH_REGISTER_ORD", arg: "URL", help: "serve: the ord server for --register-esplora" },
  {
    name: "registerNetwork",
    env: "LUMAMESH_REGISTER_NETWORK",
    arg: "NET",
    help: "serve: network for --register-esplora (default mainnet)",
  },
];
export const FLAGS: Flag[] = [
  { name: "host", env: "LUMAMESH_HOST", arg: "ADDR", help: "address to bind the UDP socket to (default 0.0.0.0)" },
  { name: "port", env: "LUMAMESH_PORT", arg: "N", help: `UDP port (default ${DEFAULT_PORT}; 0 picks a free one)` },
  {
    name: "publicIp",
    env: "LUMAMESH_PUBLIC_IP",
    arg: "ADDR",
    help: "address advertised in the relay's record (default: what other relays see, learned from them; --host when bound to one address)",
  },
  { name: "dataDir", env: "LUMAMESH_DATA_DIR", arg: "DIR", help: "where the certificate and keys live (default ~/.lumamesh)" },
  { name: "logLevel", env: "LUMAMESH_LOG_LEVEL", arg: "LEVEL", help: `one of ${LEVELS.join(", ")} (default info)` },
  { name: "logAddresses", env: "LUMAMESH_LOG_ADDRESSES", bool: true, help: "log remote addresses instead of redacting them" },
  {
    name: "idleTimeout",
    env: "LUMAMESH_IDLE_TIMEOUT",
    arg: "SECONDS",
    help: "close sessions silent this long (default 30; browsers check consent every ~5 s)",
  },
  {
    name: "statsInterval",
    env: "LUMAMESH_STATS_INTERVAL",
    arg: "SECONDS",
    help: "log a relay.stats line with every counter this often (default 60, 0 = never)",
  },
  {
    name: "ord",
    env: "LUMAMESH_ORD",
    arg: "URL",
    help: `ord server: where the relay reads the bootstrap sat to find other relays (default ${ORD_ORIGIN}; none: do not ask one); for register, one with --index-sats and --index-runes (every UTXO is checked with it before it is spent)`,
  },
  {
    name: "peers",
    flag: "peer",
    env: "LUMAMESH_PEERS",
    arg: "ADDR,FP",
    help: "another relay to gossip with (its address and certificate fingerprint), repeatable (env: space-separated); given, the relay looks for no others",
  },
  {
    name: "limits",
    flag: "limit",
    env: "LUMAMESH_LIMITS",
    arg: "NAME=N",
    help: `override a limit, repeatable (env: comma-separated); names: ${Object.keys(DEFAULT_LIMITS).join(", ")}`,
  },
  { name: "recordFrames", env: "LUMAMESH_RECORD_FRAMES", arg: "FILE", help: "testing only: record every application-layer frame to FILE" },
];

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

function flagLine(f: Flag | RegisterFlag) {
  return `  --${f.flag ?? kebab(f.name)}${f.arg ? " " + f.arg : ""}`.padEnd(30) + `${f.help} [${f.env}]`;
}

export const USAGE = `lumamesh-relay — a Lumamesh relay: browsers reach it over WebRTC on one UDP port, no signaling server.

Usage:
  lumamesh-relay [options]            run the relay; with no options it finds other relays
                                      (bootstrap sat through --ord, then the relays built in),
                                      learns its public address from them and joins the network
  lumamesh-relay status [--data-dir D]
                                      what the relay serving from --data-dir learned: its address
                                      (confirmed or not), the relays it links to and vouches for
  lumamesh-relay record [options]     print the record (JSON) of the relay serving from --data-dir:
                                      the address and port it advertises (saved in serving.json
                                      when it starts); --public-ip, --host, --port override
  lumamesh-relay address [--network N]
                                      print the relay's Bitcoin funding address (default: the
                                      network the serving relay registers on, else mainnet)
  lumamesh-relay register (--esplora URL | --core-rpc URL …) --ord URL [--network N] [--broadcast]
                                      inscribe this relay's signed record on Bitcoin: shows the
                                      address and cost, waits for funds (--no-wait: just show),
                                      dry run unless --broadcast; reinscribes the same sat when
                                      the address, port or certificate changes (docs/register.md)
  lumamesh-relay --help | --version

Options (each also read from the environment variable shown):
${FLAGS.map(flagLine).join("\n")}

Bitcoin registration (address, register; --register-* in serve mode):
${REGISTER_FLAGS.map(flagLine).join("\n")}
`;

export class ConfigError extends Error {}

/** The flags (Config/RegisterConfig key names) set on the command line or in the environment, as
 *  opposed to defaulted: `record`, `address` and `register` prefer these over what the serving relay
 *  saved in its data directory (relay/serving.ts). */
export function givenFlags(argv: string[], env: Record<string, string | undefined>): Set<string> {
  return new Set(Object.keys(readFlags(argv, env).raw));
}

function readFlags(argv: string[], env: Record<string, string | undefined>) {
  const raw: Record<string, string | boolean | undefined> = {};
  for (const f of [...FLAGS, ...REGISTER_FLAGS])
    if (env[f.env] !== undefined && env[f.env] !== "") raw[f.name] = f.bool ? env[f.env] !== "0" && env[f.env] !== "false" : env[f.env];
  let command: Config["command"] = "serve";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === "--help" || a === "-h" || a === "help") {
      command = "help";
      continue;
    }
    if (a === "--version" || a === "-v") {
      command = "version";
      continue;
    }
    if (a === "record" || a === "serve" || a === "status" || a === "address" || a === "register") {
      command = a;
      continue;
    }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    const f = m && [...FLAGS, ...REGISTER_FLAGS].find((x) => (x.flag ?? kebab(x.name)) === m[1]);
    if (!f) throw new ConfigError(`unknown argument ${JSON.stringify(a)} (see --help)`);
    if (f.bool) {
      raw[f.name] = m![2] === undefined ? true : m![2] !== "false" && m![2] !== "0";
      continue;
    }
    const v = m![2] ?? argv[++i];
    if (v === undefined) throw new ConfigError(`--${m![1]} needs a value`);
    raw[f.name] = f.name === "limits" && raw.limits ? raw.limits + "," + v : f.name === "peers" && raw.peers ? raw.peers + " " + v : v;
  }
  return { raw, command };
}

export function parseConfig(argv: string[], env: Record<string, string | undefined>): Config {
  const { raw, command } = readFlags(argv, env);
  // Decimal digits only: Number("") is 0 (a random port) and Number("0x50") is 80.
  const port = raw.port === undefined ? DEFAULT_PORT : /^\d+$/.test(raw.port as string) ? Number(raw.port) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new ConfigError(`--port must be 0..65535, got ${JSON.stringify(raw.port)}`);
  const logLevel = (raw.logLevel ?? "info") as Level;
  if (!LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LEVELS.join(", ")}`);
  const host = (raw.host as string | undefined) ?? "0.0.0.0";
  const num = (k: string, d: number, min: number) => {
    const v = raw[k] === undefined ? d : Number(raw[k]);
    if (!Number.isFinite(v) || v < min) throw new ConfigError(`--${kebab(k)} must be a number ≥ ${min}, got ${JSON.stringify(raw[k])}`);
    return v;
  };
  return {
    command,
    host,
    port,
    logLevel,
    publicIp: raw.publicIp as string | undefined,
    dataDir: (raw.dataDir as string | undefined) ?? join(env.HOME ?? homedir(), ".lumamesh"),
    logAddresses: raw.logAddresses === true,
    recordFrames: raw.recordFrames as string | undefined,
    limits: parseLimits(raw.limits as string | undefined),
    peers: parsePeers(raw.peers as string | undefined),
    ord: parseOrd(raw.ord as string | undefined),
    idleTimeout: num("idleTimeout", 30, 1),
    statsInterval: num("statsInterval", 60, 0),
    ...(command === "address" || command === "register" || REGISTER_FLAGS.some((f) => raw[f.name] !== undefined)
      ? { register: parseRegister(raw, command, num) }
      : {}),
  };
}

function parseRegister(
  raw: Record<string, string | boolean | undefined>,
  command: Config["command"],
  num: (k: string, d: number, min: number) => number,
): RegisterConfig {
  const net = (k: string): NetworkName => {
    const v = (raw[k] as string | undefined) ?? "mainnet";
    if (!NETWORKS.includes(v as NetworkName))
      throw new ConfigError(`--${kebab(k)} must be one of ${NETWORKS.join(", ")}, got ${JSON.stringify(v)}`);
    return v as NetworkName;
  };
  const s = (k: string) => raw[k] as string | undefined;
  const postage = num("postage", 546, 546);
  if (postage > 10_000 || !Number.isInteger(postage))
    throw new ConfigError(`--postage must be an integer 546..10000, got ${JSON.stringify(raw.postage)}`);
  const feeRate = raw.feeRate === undefined ? undefined : num("feeRate", 0, 0);
  if (feeRate !== undefined && !(feeRate > 0)) throw new ConfigError("--fee-rate must be > 0");
  const r: RegisterConfig = {
    network: net("network"),
    esplora: s("esplora"),
    coreRpc: s("coreRpc"),
    coreUser: s("coreUser"),
    corePasswordEnv: s("corePasswordEnv"),
    coreCookie: s("coreCookie"),
    ord: s("ord"),
    feeRate,
    postage,
    timeout: num("timeout", 3600, 0),
    noWait: raw.noWait === true,
    broadcast: raw.broadcast === true,
    allowUnindexedRunes: raw.allowUnindexedRunes === true,
    registerEsplora: s("registerEsplora"),
    registerOrd: s("registerOrd"),
    registerNetwork: net("registerNetwork"),
  };
  if (command === "register") {
    if (!r.esplora === !r.coreRpc) throw new ConfigError("register needs one backend: --esplora URL or --core-rpc URL");
    if (!r.ord) throw new ConfigError("register needs --ord URL (an ord server that indexes sats)");
  }
  if (!r.registerEsplora !== !r.registerOrd) throw new ConfigError("--register-esplora and --register-ord go together");
  return r;
}

/** The address to advertise: explicit, else the bound host, else loopback for a wildcard bind. */
export function advertisedIp(c: Config): string {
  if (c.publicIp) return c.publicIp;
  return c.host === "0.0.0.0" || c.host === "::" ? "127.0.0.1" : c.host;
}

function parseLimits(spec: string | undefined): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const item of (spec ?? "").split(",").filter(Boolean)) {
    const [k, v] = item.split("=");
    if (!(k in DEFAULT_LIMITS))
      throw new ConfigError(`--limit: unknown limit ${JSON.stringify(k)} (known: ${Object.keys(DEFAULT_LIMITS).join(", ")})`);
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v ?? "") || n <= 0) throw new ConfigError(`--limit ${k} must be a positive number, got ${JSON.stringify(v)}`);
    out[k as keyof Limits] = n;
  }
  return out;
}

function parseOrd(v: string | undefined): string | null {
  if (v === undefined) return ORD_ORIGIN;
  if (v === "none") return null;
  let u: URL;
  try {
    u = new URL(v);
  } catch {
    throw new ConfigError(`--ord must be an http(s) URL or none, got ${JSON.stringify(v)}`);
  }
  if (u.protocol !== "http:" && u.protocol !== "https:")
    throw new ConfigError(`--ord must be an http(s) URL or none, got ${JSON.stringify(v)}`);
  return u.origin + u.pathname.replace(/\/+$/, "");
}

function parsePeers(spec: string | undefined): { addr: string; fp: string }[] {
  return (spec ?? "")
    .split(/\s+/)
    .filter(Boolean)
    .map((item) => {
      const [addr, fp] = item.split(",");
      if (
        !addr ||
        !/^(\[[0-9a-fA-F:.]+\]|\d{1,3}(\.\d{1,3}){3}):\d{1,5}$/.test(addr) ||
        !/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(fp ?? "")
      )
        throw new ConfigError(`--peer must be ADDR,FP (ip:port and a SHA-256 fingerprint), got ${JSON.stringify(item)}`);
      return { addr, fp: fp.toUpperCase() };
    });
}
