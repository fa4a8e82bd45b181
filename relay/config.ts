// Relay configuration: command-line flags, each also settable by an environment variable.
import { LEVELS, type Level } from "./log.ts";
import { DEFAULT_LIMITS, type Limits } from "./limits.ts";
import { homedir } from "node:os";
import { join } from "node:path";

export const DEFAULT_PORT = 4884;

export interface Config {
  command: "serve" | "record" | "help" | "version";
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
  /** Overrides of the relay's limits (`--limit name=value`, repeatable). */
  limits: Partial<Limits>;
  /** Bootstrap relays for gossip (`--peer ADDR,FP`, repeatable). */
  peers: { addr: string; fp: string }[];
}

interface Flag { name: keyof Config; env: string; help: string; arg?: string; bool?: boolean; flag?: string }
export const FLAGS: Flag[] = [
  { name: "host", env: "LUMAMESH_HOST", arg: "ADDR", help: "address to bind the UDP socket to (default 0.0.0.0)" },
  { name: "port", env: "LUMAMESH_PORT", arg: "N", help: `UDP port (default ${DEFAULT_PORT}; 0 picks a free one)` },
  { name: "publicIp", env: "LUMAMESH_PUBLIC_IP", arg: "ADDR", help: "address advertised in the relay's record (default: --host, or 127.0.0.1 when binding 0.0.0.0)" },
  { name: "dataDir", env: "LUMAMESH_DATA_DIR", arg: "DIR", help: "where the certificate and keys live (default ~/.lumamesh)" },
  { name: "logLevel", env: "LUMAMESH_LOG_LEVEL", arg: "LEVEL", help: `one of ${LEVELS.join(", ")} (default info)` },
  { name: "logAddresses", env: "LUMAMESH_LOG_ADDRESSES", bool: true, help: "log remote addresses instead of redacting them" },
  { name: "idleTimeout", env: "LUMAMESH_IDLE_TIMEOUT", arg: "SECONDS", help: "close sessions silent this long (default 30; browsers check consent every ~5 s)" },
  { name: "statsInterval", env: "LUMAMESH_STATS_INTERVAL", arg: "SECONDS", help: "log a relay.stats line with every counter this often (default 60, 0 = never)" },
  { name: "peers", flag: "peer", env: "LUMAMESH_PEERS", arg: "ADDR,FP", help: "another relay to gossip with (its address and certificate fingerprint), repeatable (env: space-separated)" },
  { name: "limits", flag: "limit", env: "LUMAMESH_LIMITS", arg: "NAME=N", help: `override a limit, repeatable (env: comma-separated); names: ${Object.keys(DEFAULT_LIMITS).join(", ")}` },
  { name: "recordFrames", env: "LUMAMESH_RECORD_FRAMES", arg: "FILE", help: "testing only: record every application-layer frame to FILE" },
];

const kebab = (s: string) => s.replace(/[A-Z]/g, (c) => "-" + c.toLowerCase());

export const USAGE = `lumamesh-relay — a Lumamesh relay: browsers reach it over WebRTC on one UDP port, no signaling server.

Usage:
  lumamesh-relay [options]            run the relay
  lumamesh-relay record [options]     print this relay's record (JSON) and exit
  lumamesh-relay --help | --version

Options (each also read from the environment variable shown):
${FLAGS.map((f) => `  --${f.flag ?? kebab(f.name)}${f.arg ? " " + f.arg : ""}`.padEnd(30) + `${f.help} [${f.env}]`).join("\n")}
`;

export class ConfigError extends Error {}

export function parseConfig(argv: string[], env: Record<string, string | undefined>): Config {
  const raw: Record<string, string | boolean | undefined> = {};
  for (const f of FLAGS) if (env[f.env] !== undefined && env[f.env] !== "") raw[f.name] = f.bool ? env[f.env] != "0" && env[f.env] != "false" : env[f.env];
  let command: Config["command"] = "serve";
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a == "--help" || a == "-h" || a == "help") { command = "help"; continue; }
    if (a == "--version" || a == "-v") { command = "version"; continue; }
    if (a == "record" || a == "serve") { command = a; continue; }
    const m = /^--([a-z-]+)(?:=(.*))?$/.exec(a);
    const f = m && FLAGS.find((x) => (x.flag ?? kebab(x.name)) == m[1]);
    if (!f) throw new ConfigError(`unknown argument ${JSON.stringify(a)} (see --help)`);
    if (f.bool) { raw[f.name] = m![2] === undefined ? true : m![2] != "false" && m![2] != "0"; continue; }
    const v = m![2] ?? argv[++i];
    if (v === undefined) throw new ConfigError(`--${m![1]} needs a value`);
    raw[f.name] = f.name == "limits" && raw.limits ? raw.limits + "," + v : f.name == "peers" && raw.peers ? raw.peers + " " + v : v;
  }
  // Decimal digits only: Number("") is 0 (a random port) and Number("0x50") is 80.
  const port = raw.port === undefined ? DEFAULT_PORT : /^\d+$/.test(raw.port as string) ? Number(raw.port) : NaN;
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`--port must be 0..65535, got ${JSON.stringify(raw.port)}`);
  const logLevel = (raw.logLevel ?? "info") as Level;
  if (!LEVELS.includes(logLevel)) throw new ConfigError(`--log-level must be one of ${LEVELS.join(", ")}`);
  const host = (raw.host as string | undefined) ?? "0.0.0.0";
  const num = (k: string, d: number, min: number) => {
    const v = raw[k] === undefined ? d : Number(raw[k]);
    if (!Number.isFinite(v) || v < min) throw new ConfigError(`--${kebab(k)} must be a number ≥ ${min}, got ${JSON.stringify(raw[k])}`);
    return v;
  };
  return {
    command, host, port, logLevel,
    publicIp: raw.publicIp as string | undefined,
    dataDir: (raw.dataDir as string | undefined) ?? join(env.HOME ?? homedir(), ".lumamesh"),
    logAddresses: raw.logAddresses === true,
    recordFrames: raw.recordFrames as string | undefined,
    limits: parseLimits(raw.limits as string | undefined),
    peers: parsePeers(raw.peers as string | undefined),
    idleTimeout: num("idleTimeout", 30, 1),
    statsInterval: num("statsInterval", 60, 0),
  };
}

/** The address to advertise: explicit, else the bound host, else loopback for a wildcard bind. */
export function advertisedIp(c: Config): string {
  if (c.publicIp) return c.publicIp;
  return c.host == "0.0.0.0" || c.host == "::" ? "127.0.0.1" : c.host;
}

function parseLimits(spec: string | undefined): Partial<Limits> {
  const out: Partial<Limits> = {};
  for (const item of (spec ?? "").split(",").filter(Boolean)) {
    const [k, v] = item.split("=");
    if (!(k in DEFAULT_LIMITS)) throw new ConfigError(`--limit: unknown limit ${JSON.stringify(k)} (known: ${Object.keys(DEFAULT_LIMITS).join(", ")})`);
    const n = Number(v);
    if (!/^\d+(\.\d+)?$/.test(v ?? "") || n <= 0) throw new ConfigError(`--limit ${k} must be a positive number, got ${JSON.stringify(v)}`);
    out[k as keyof Limits] = n;
  }
  return out;
}

function parsePeers(spec: string | undefined): { addr: string; fp: string }[] {
  return (spec ?? "").split(/\s+/).filter(Boolean).map((item) => {
    const [addr, fp] = item.split(",");
    if (!addr || !/^(\[[0-9a-fA-F:.]+\]|\d{1,3}(\.\d{1,3}){3}):\d{1,5}$/.test(addr) || !/^([0-9A-Fa-f]{2}:){31}[0-9A-Fa-f]{2}$/.test(fp ?? ""))
      throw new ConfigError(`--peer must be ADDR,FP (ip:port and a SHA-256 fingerprint), got ${JSON.stringify(item)}`);
    return { addr, fp: fp.toUpperCase() };
  });
}
