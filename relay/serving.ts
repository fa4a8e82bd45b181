// What a relay serves as, remembered in its data directory (serving.json): written when the relay
// starts listening and again whenever what it learned changes (its public address, whether another
// relay reached it there, its links), read by `status`, `record`, `address` and `register`, so those
// print what the running relay advertises without the operator repeating its flags. Flags given to
// those commands still win, one by one; with neither, the defaults apply (relay/config.ts).
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { advertisedIp, type Config } from "./config.ts";
import { NETWORKS, type NetworkName } from "../inscribe/networks.ts";

export const SERVING_FILE = "serving.json";

export interface Serving {
  /** The address the UDP socket is bound to. */
  host: string;
  /** The UDP port bound (the real one, also when started with --port 0). */
  port: number;
  /** The IP advertised in the relay's record. */
  ip: string;
  /** The network it registers itself on (serve mode with --register-esplora), if any. */
  network?: NetworkName;
  /** When it started listening (ISO 8601). */
  started: string;
  /** The port advertised, when it is not the bound one (the mapping of a NAT in front). */
  publicPort?: number;
  /** What the running relay learned (status); absent in files of older versions. */
  learned?: Learned;
}

/** What `status` shows: how the relay found its address and other relays, and what it knows now. */
export interface Learned {
  /** The process serving (status checks it still runs). */
  pid: number;
  /** When this was written (ISO 8601). */
  updated: string;
  /** Where the advertised address came from: --public-ip, the bound --host, what other relays saw, or
   *  nothing yet (a placeholder, 127.0.0.1). */
  source: "flag" | "host" | "relays" | "none";
  /** Another relay reached this relay at the advertised address (it listed this relay's record). */
  confirmed: boolean;
  confirmedBy: string[];
  /** What each relay that answered a Binding saw (its IP → this relay's address). */
  reports: { reporter: string; addr: string }[];
  /** Where other relays were looked for, and what each source gave or why it was skipped. */
  sources: { source: string; relays?: number; reason?: string }[];
  links: number;
  vouched: number;
  known: number;
  pending: number;
}

/** Written by the serving relay once it listens; atomically, so a reader never sees half a file. */
export function writeServing(dir: string, s: Serving) {
  const path = join(dir, SERVING_FILE);
  writeFileSync(path + ".tmp", JSON.stringify(s, null, 2) + "\n", { mode: 0o644 });
  renameSync(path + ".tmp", path);
}

/** The saved serving configuration; null when no relay has served from `dir` yet, or a reason the file is unusable. */
export function readServing(dir: string): Serving | null | { problem: string } {
  let text: string;
  try {
    text = readFileSync(join(dir, SERVING_FILE), "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return null;
    return { problem: `cannot read ${SERVING_FILE}: ${(e as Error).message}` };
  }
  let j: any;
  try {
    j = JSON.parse(text);
  } catch {
    return { problem: `${SERVING_FILE} is not JSON` };
  }
  const ok =
    j &&
    typeof j === "object" &&
    typeof j.host === "string" &&
    typeof j.ip === "string" &&
    j.ip.length > 0 &&
    Number.isInteger(j.port) &&
    j.port > 0 &&
    j.port < 65536 &&
    typeof j.started === "string" &&
    (j.network === undefined || NETWORKS.includes(j.network));
  if (!ok || (j.publicPort !== undefined && !(Number.isInteger(j.publicPort) && j.publicPort > 0 && j.publicPort < 65536)))
    return { problem: `${SERVING_FILE} does not have the expected fields` };
  const learned =
    j.learned && typeof j.learned === "object" && Number.isInteger(j.learned.pid) && typeof j.learned.source === "string"
      ? (j.learned as Learned)
      : undefined;
  return {
    host: j.host,
    port: j.port,
    ip: j.ip,
    started: j.started,
    ...(j.network !== undefined && { network: j.network }),
    ...(j.publicPort !== undefined && { publicPort: j.publicPort }),
    ...(learned && { learned }),
  };
}

export interface Advertised {
  ip: string;
  port: number;
  /** Where each came from: the flags given, the serving relay's saved configuration, or the defaults. */
  from: { ip: "flags" | "serving" | "defaults"; port: "flags" | "serving" | "defaults" };
}

/**
 * The address a record should carry: per field, a flag given to this command (`--public-ip` or
 * `--host` for the IP, `--port`), else what the serving relay saved, else the defaults
 * (127.0.0.1:4884, as a relay started with no flags advertises).
 */
export function advertised(c: Config, given: Set<string>, saved: Serving | null): Advertised {
  const ipGiven = given.has("publicIp") || given.has("host");
  const ip = ipGiven || !saved ? advertisedIp(c) : saved.ip;
  const port = given.has("port") || !saved ? c.port : (saved.publicPort ?? saved.port);
  return {
    ip,
    port,
    from: { ip: ipGiven ? "flags" : saved ? "serving" : "defaults", port: given.has("port") ? "flags" : saved ? "serving" : "defaults" },
  };
}

/** The Bitcoin network for `address` and `register`: `--network` if given, else the serving relay's, else mainnet. */
export function network(c: Config, given: Set<string>, saved: Serving | null): NetworkName {
  return given.has("network") || !saved?.network ? c.register!.network : saved.network;
}

/** True for addresses no other machine can reach: 127.0.0.0/8, ::1, and the unspecified addresses. */
export function isLoopback(ip: string): boolean {
  return /^127\./.test(ip) || ip === "::1" || ip === "0.0.0.0" || ip === "::" || /^::ffff:127\./i.test(ip);
}
