// The bootstrap config (docs/protocol.md §5): the JSON inscribed on the bootstrap sat, compiled into
// the bundle, and cached by pages. Relays are named directly ({addr, fp}) or by the sat their signed
// record is inscribed on ({sat}).
//
//   { "lumamesh": 1, "relays": [ { "addr": "203.0.113.5:4884", "fp": "AB:…:EF" }, { "sat": 1234567890 } ] }
import { FP_RE, parseAddr } from "./addr.ts";

export interface RelayInfo {
  /** "ip:port" or "[ipv6]:port" */
  addr: string;
  /** SHA-256 fingerprint of the relay's DTLS certificate, colon hex as in SDP. */
  fp: string;
}

export interface Bootstrap {
  /** Relays named by address and fingerprint. */
  relays: RelayInfo[];
  /** Sats whose newest inscription is a registered relay's signed record. */
  sats: number[];
}

/** Entries read from one config at most (a config is a few dozen relays). */
export const MAX_BOOTSTRAP_ENTRIES = 64;

/** A bootstrap config's relays and sats, or why it is unusable. Bad entries are skipped. */
export function parseBootstrap(text: string): Bootstrap | string {
  let j: any;
  try {
    j = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (j?.lumamesh !== 1) return "unsupported bootstrap version " + JSON.stringify(j?.lumamesh);
  if (!Array.isArray(j.relays)) return "no relays list";
  const out: Bootstrap = { relays: [], sats: [] };
  for (const r of j.relays.slice(0, MAX_BOOTSTRAP_ENTRIES)) {
    if (typeof r?.addr === "string" && parseAddr(r.addr) && typeof r.fp === "string" && FP_RE.test(r.fp))
      out.relays.push({ addr: r.addr, fp: r.fp });
    else if (r && r.addr === undefined && Number.isSafeInteger(r.sat) && r.sat >= 0) out.sats.push(r.sat);
  }
  return out.relays.length || out.sats.length ? out : "no valid relay entries";
}

/** A config naming these relays (what pages cache). */
export const bootstrapText = (relays: RelayInfo[]): string => JSON.stringify({ lumamesh: 1, relays });
