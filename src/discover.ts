// Finding relays with zero configuration (docs/protocol.md §5). Sources, in order, each validated
// strictly and skipped with a recorded reason when bad: explicit options.relays; the bootstrap sat
// read through ord recursion (same-origin when this library was itself loaded from an ord route,
// else the configured ord origins); the list compiled into this bundle; relays cached from earlier
// visits. Inside an inscription only same-origin ord routes are ever requested.
import { FP_RE, parseAddr, type RelayInfo } from "./link.ts";
import { concat, utf8Encode } from "./bytes.ts";

/** Build-time settings (build.ts defines LUMAMESH_BUILD); these defaults serve source imports. */
declare const LUMAMESH_BUILD: { bootSat: number; relays: RelayInfo[]; fallback: string } | undefined;
export const BUILD = /* @__PURE__ */ (() =>
  typeof LUMAMESH_BUILD == "object" ? LUMAMESH_BUILD : { bootSat: 25483050765716, relays: [] as RelayInfo[], fallback: "/r/sat/25483050765717/at/-1/content" })();

export interface SourceReport {
  source: string;
  /** Relays it gave, or why it was skipped. */
  relays?: number;
  reason?: string;
}

export interface DiscoverOptions {
  relays?: RelayInfo[];
  /** ord servers to read the bootstrap sat from when not inside an inscription (default ordinals.com). */
  ord?: string[];
  /** The bootstrap sat (default: compiled in). */
  bootSat?: number;
}

const KEY = "lumamesh.relays";

/** Validate a bootstrap config (or cached list): the relays, or why it is unusable. */
export function parseBootstrap(text: string): RelayInfo[] | string {
  let j: any;
  try {
    j = JSON.parse(text);
  } catch {
    return "not JSON";
  }
  if (j?.lumamesh !== 1) return "unsupported bootstrap version " + JSON.stringify(j?.lumamesh);
  if (!Array.isArray(j.relays)) return "no relays list";
  const ok = j.relays.filter((r: any) => typeof r?.addr == "string" && parseAddr(r.addr) && FP_RE.test(r.fp));
  return ok.length ? ok.map((r: any) => ({ addr: r.addr, fp: r.fp })) : "no valid relay entries";
}

/** The origin of the ord server this library was loaded from, if it was loaded by an ord route. */
export function ordHome(url: string): string | null {
  try {
    const u = new URL(url);
    return /^\/(content|r|preview)\//.test(u.pathname) ? u.origin : null;
  } catch {
    return null;
  }
}

/** Read the newest inscription on a sat: /r/sat/N/at/-1/content, or the older two-step route. */
async function readSat(origin: string, sat: number): Promise<string> {
  const get = async (path: string) => {
    const r = await fetch(origin + path, { signal: AbortSignal.timeout(4000) });
    if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
    return r;
  };
  const base = `/r/sat/${sat}/at/-1`;
  try {
    return await (await get(base + "/content")).text();
  } catch (e) {
    // ord before 0.22.2 has /r/sat/N/at/I but not its /content.
    const id = (await (await get(base).catch(() => { throw e; })).json()).id;
    if (!id) throw new Error(`sat ${sat} has no inscription`);
    return (await get("/content/" + id)).text();
  }
}

export async function discover(o: DiscoverOptions, here = import.meta.url): Promise<{ relays: RelayInfo[]; sources: SourceReport[] }> {
  const sources: SourceReport[] = [];
  const out = new Map<string, RelayInfo>();
  const add = (source: string, got: RelayInfo[] | string) => {
    if (typeof got == "string") return sources.push({ source, reason: got });
    sources.push({ source, relays: got.length });
    for (const r of got) if (!out.has(r.addr)) out.set(r.addr, r);
  };
  // Explicit relays are taken as given: connect() reports each bad one by name.
  if (o.relays) add("options.relays", o.relays);
  else {
    const home = ordHome(here);
    const sat = o.bootSat ?? BUILD.bootSat;
    for (const origin of home ? [home] : o.ord ?? ["https://ordinals.com"]) {
      const source = `${origin}/r/sat/${sat}`;
      try {
        const text = await readSat(origin, sat);
        let got = parseBootstrap(text);
        // Entries {"sat": N} name registered relays: their signed record is the newest inscription on N.
        const sats = typeof got != "string" || got == "no valid relay entries" ? JSON.parse(text).relays.filter((r: any) => Number.isSafeInteger(r?.sat) && !r.addr).map((r: any) => r.sat) : [];
        if (sats.length) {
          const recs = await Promise.all(sats.map((n: number) => readSat(origin, n).catch(() => "null")));
          const rs = await checkRecords("[" + recs.join() + "]", null);
          if (rs.length) got = [...(typeof got == "string" ? [] : got), ...rs];
        }
        add(source, got);
      } catch (e: any) {
        add(source, String(e?.message ?? e));
      }
    }
    add("compiled-in", BUILD.relays.length ? BUILD.relays : "empty");
    let cached: string | null = null;
    try {
      cached = localStorage.getItem(KEY);
    } catch {} // opaque-origin sandboxes have no storage
    add("cache", cached ? parseBootstrap(cached) : "empty");
  }
  return { relays: [...out.values()], sources };
}

/** Remember relays that worked for the next visit (where storage exists). */
export function remember(relays: RelayInfo[]) {
  try {
    localStorage.setItem(KEY, JSON.stringify({ lumamesh: 1, relays }));
  } catch {}
}

const unhex = (h: string) => Uint8Array.from(h.match(/../g) ?? [], (x) => parseInt(x, 16));

/**
 * Relays a relay told us about (RECORDS, relay/record.ts): kept only if the Ed25519 signature holds
 * and, where an ord server is at hand, the record is the newest inscription on its own sat. A
 * relay can withhold records but not forge them. Without WebCrypto nothing is taken.
 */
export async function checkRecords(json: string, home: string | null): Promise<RelayInfo[]> {
  const out: RelayInfo[] = [];
  let list: any[];
  try {
    list = JSON.parse(json);
  } catch {
    return out;
  }
  const c = globalThis.crypto?.subtle;
  for (const r of Array.isArray(list) && c ? list.slice(0, 40) : []) {
    try {
      if (r.lumamesh !== 1 || !parseAddr(r.addr) || !FP_RE.test(r.fp)) continue;
      const o: any = { lumamesh: 1, addr: r.addr, fp: r.fp, id: r.id };
      if (r.sat !== undefined) o.sat = r.sat;
      o.seq = r.seq;
      const key = await c!.importKey("raw", unhex(r.id), { name: "Ed25519" }, false, ["verify"]);
      const sig = Uint8Array.from(atob(r.sig.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
      if (!(await c!.verify("Ed25519", key, sig, utf8Encode("lumamesh-record:" + JSON.stringify(o))))) continue;
      // With an ord server at hand, only relays registered on-chain (their record on their sat).
      if (home) {
        if (r.sat === undefined) continue;
        const on = await (await fetch(`${home}/r/sat/${r.sat}/at/-1/content`, { signal: AbortSignal.timeout(4000) })).json();
        if (on.id != r.id || on.addr != r.addr || on.fp != r.fp) continue;
      }
      out.push({ addr: r.addr, fp: r.fp });
    } catch {}
  }
  return out;
}

/** Rendezvous (highest random weight) ranking of relays for a topic: every page ranks alike. */
export async function rank(topic: Uint8Array, relays: RelayInfo[], sha256: (d: Uint8Array) => Promise<Uint8Array>): Promise<RelayInfo[]> {
  const scored = await Promise.all(relays.map(async (r) => {
    const h = await sha256(concat([topic, utf8Encode(r.fp)]));
    return [new DataView(h.buffer).getUint32(0), r] as const;
  }));
  return scored.sort((a, b) => b[0] - a[0]).map((x) => x[1]);
}
