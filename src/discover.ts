// Finding relays with zero configuration (docs/protocol.md §5). Sources, in order, each validated
// strictly and skipped with a recorded reason when bad: explicit options.relays; the bootstrap sat
// read through ord recursion (same-origin when this library was itself loaded from an ord route,
// else the configured ord origins); the list compiled into this bundle; relays cached from earlier
// visits. Inside an inscription only same-origin ord routes are ever requested.
import { concat, fromHex, uint, utf8Encode } from "../protocol/bytes.ts";
import { parseBootstrap, type RelayInfo } from "../protocol/bootstrap.ts";
import { recordShape, recordSignedBytes } from "../protocol/record.ts";

/** Build-time settings (build.ts defines LUMAMESH_BUILD, and LUMAMESH_BUILT as true so the minifier
 *  drops the defaults); these defaults serve source imports. */
declare const LUMAMESH_BUILD: { bootSat: number; relays: RelayInfo[]; fallback: string }, LUMAMESH_BUILT: boolean | undefined;
export const BUILD = /* @__PURE__ */ (() =>
  typeof LUMAMESH_BUILT === "boolean"
    ? LUMAMESH_BUILD
    : { bootSat: 25483050765716, relays: [] as RelayInfo[], fallback: "/r/sat/25483050765717/at/-1/content" })();

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

const KEY = "lumamesh.relays",
  LEARNED = "lumamesh.gossip";

/** The origin of the ord server this library was loaded from, if it was loaded by an ord route. */
export function ordHome(url: string): string | null {
  try {
    const u = new URL(url);
    return /^\/(content|r|preview)\//.test(u.pathname) ? u.origin : null;
  } catch {
    return null;
  }
}

/** Read the newest inscription on a sat: /r/sat/N/at/-1/content (ord 0.22.2 and later). */
async function readSat(origin: string, sat: number): Promise<string> {
  const path = `/r/sat/${sat}/at/-1/content`;
  const r = await fetch(origin + path, { signal: AbortSignal.timeout(4000) });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  return r.text();
}

export async function discover(
  o: DiscoverOptions,
  here = import.meta.url,
): Promise<{ relays: RelayInfo[]; sources: SourceReport[]; learned: RelayInfo[] }> {
  const sources: SourceReport[] = [];
  let learned: RelayInfo[] = [];
  const out = new Map<string, RelayInfo>();
  const add = (source: string, got: RelayInfo[] | string) => {
    if (typeof got === "string") return sources.push({ source, reason: got });
    sources.push({ source, relays: got.length });
    for (const r of got) if (!out.has(r.addr)) out.set(r.addr, r);
  };
  // Explicit relays are taken as given: connect() reports each bad one by name.
  if (o.relays) add("options.relays", o.relays);
  else {
    const home = ordHome(here);
    const sat = o.bootSat ?? BUILD.bootSat;
    for (const origin of home ? [home] : (o.ord ?? ["https://ordinals.com"])) {
      const source = `${origin}/r/sat/${sat}`;
      try {
        const b = parseBootstrap(await readSat(origin, sat));
        if (typeof b === "string") throw new Error(b);
        // Entries {"sat": N} name registered relays: their signed record is the newest inscription on
        // N, each read and checked on its own.
        const recs = await Promise.all(
          b.sats.map(async (n) => checkRecords("[" + (await readSat(origin, n).catch(() => "null")) + "]", null, 1)),
        );
        add(source, [...b.relays, ...recs.flat()]);
      } catch (e: any) {
        add(source, String(e?.message ?? e));
      }
    }
    add("compiled-in", BUILD.relays.length ? BUILD.relays : "empty");
    // Opaque-origin sandboxes have no storage: the cache is then empty.
    const c = cache().relays;
    add("cache", c.length ? c : "empty");
    learned = load(LEARNED).filter((r) => !out.has(r.addr));
  }
  return { relays: [...out.values()], sources, learned };
}

/** A relay list kept in localStorage in the bootstrap format; [] when missing, unreadable or malformed. */
const load = (key: string): RelayInfo[] => {
  try {
    const b = parseBootstrap(localStorage.getItem(key)!);
    return typeof b === "string" ? [] : b.relays;
  } catch {
    return [];
  }
};
/** Relays learned from relays (checked records), kept across visits: they come back in the lower trust
 *  tier, so a page whose sources all died can still reach the network it learned of. */
export const keepLearned = (relays: RelayInfo[]) => put(LEARNED, { relays });
/** Keep a relay list (and more) in the bootstrap format, where the page has storage. */
const put = (key: string, o: object) => {
  try {
    localStorage.setItem(key, JSON.stringify({ lumamesh: 1, ...o }));
  } catch {}
};

// The cache (localStorage, where the page has storage): relays this page linked to, newest first,
// with when each was last reached, its round trip and when it last failed. Capped and expiring, so
// a hostile relay cannot fill it; a relay that fails is dropped from it.
//   { "lumamesh": 1, "relays": [{addr, fp}…], "at": { addr: [lastReached, rttMs, lastFailed] } }
const CACHE_MAX = 64,
  CACHE_DAYS = 30,
  FAIL_MS = 600000;
type Meta = Record<string, [number, number, number]>;
const cache = (): { relays: RelayInfo[]; at: Meta } => {
  try {
    const j = JSON.parse(localStorage.getItem(KEY)!);
    return { relays: load(KEY), at: j.at && typeof j.at === "object" ? j.at : {} };
  } catch {
    return { relays: [], at: {} };
  }
};
const store = (relays: RelayInfo[], at: Meta) => {
  const now = Date.now(),
    keep = relays.filter((r) => now - (at[r.addr]?.[0] ?? now) < CACHE_DAYS * 864e5).slice(0, CACHE_MAX);
  const meta: Meta = {};
  for (const a of Object.keys(at).slice(-2 * CACHE_MAX)) meta[a] = at[a]!;
  put(KEY, { relays: keep, at: meta });
};
/** This page reached `r` in `rtt` ms: remember it, first. */
export function seen(r: RelayInfo, rtt: number) {
  const c = cache();
  c.at[r.addr] = [Date.now(), Math.round(rtt), 0];
  store([r, ...c.relays.filter((x) => x.addr !== r.addr)], c.at);
}
/** `r` could not be reached: dropped from the cache (and the learned relays), tried last for a while. */
export function failed(r: RelayInfo) {
  const c = cache(),
    m = c.at[r.addr] ?? [0, 0, 0];
  c.at[r.addr] = [m[0], m[1], Date.now()];
  store(
    c.relays.filter((x) => x.addr !== r.addr),
    c.at,
  );
  keepLearned(load(LEARNED).filter((x) => x.addr !== r.addr));
}
/** Relays in the order to try them: nearest known round trip first, unknown next, those that failed lately last. */
export function byDistance(relays: RelayInfo[]): RelayInfo[] {
  const at = cache().at,
    now = Date.now();
  const key = (r: RelayInfo) => {
    const m = at[r.addr];
    return m && now - m[2] < FAIL_MS ? 3e9 : m?.[1] || 2e9;
  };
  // Array sorts are stable (ES2019): equal keys keep the given order.
  return [...relays].sort((a, b) => key(a) - key(b));
}

/**
 * Relays a relay told us about (RECORDS, relay/record.ts): kept only if the Ed25519 signature holds
 * and, where an ord server is at hand, the record is the newest inscription on its own sat. A
 * relay can withhold records but not forge them. Without WebCrypto nothing is taken.
 */
export async function checkRecords(json: string, home: string | null, max = 40): Promise<RelayInfo[]> {
  const out: RelayInfo[] = [];
  let list: any[];
  try {
    list = JSON.parse(json);
  } catch {
    return out;
  }
  const c = globalThis.crypto?.subtle;
  for (const x of Array.isArray(list) && c ? list.slice(0, max) : []) {
    try {
      const r = recordShape(x);
      if (typeof r === "string") continue;
      const key = await c!.importKey("raw", fromHex(r.id), { name: "Ed25519" }, false, ["verify"]);
      const sig = Uint8Array.from(atob(r.sig.replace(/-/g, "+").replace(/_/g, "/")), (ch) => ch.charCodeAt(0));
      if (!(await c!.verify("Ed25519", key, sig, recordSignedBytes(r)))) continue;
      // With an ord server at hand, only relays registered on-chain (their record on their sat).
      if (home) {
        if (r.sat === undefined) continue;
        const on = JSON.parse(await readSat(home, r.sat));
        if (on.id !== r.id || on.addr !== r.addr || on.fp !== r.fp) continue;
      }
      out.push({ addr: r.addr, fp: r.fp });
    } catch {}
  }
  return out;
}

/** Rendezvous (highest random weight) ranking of relays for a topic: every page ranks alike. */
export async function rank(topic: Uint8Array, relays: RelayInfo[], sha256: (d: Uint8Array) => Promise<Uint8Array>): Promise<RelayInfo[]> {
  const scored = await Promise.all(
    relays.map(async (r) => {
      const h = await sha256(concat([topic, utf8Encode(r.fp)]));
      return [uint(h.subarray(0, 4)), r] as const;
    }),
  );
  return scored.sort((a, b) => b[0] - a[0]).map((x) => x[1]);
}
