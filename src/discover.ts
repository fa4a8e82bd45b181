// Finding relays with zero configuration (docs/protocol.md §5). Sources, in order, each validated
// strictly and skipped with a recorded reason when bad: explicit options.relays; the bootstrap sat
// read through ord recursion (same-origin when this library was itself loaded from an ord route,
// else the configured ord origins); the list compiled into this bundle; relays cached from earlier
// visits. Inside an inscription only same-origin ord routes are ever requested.
import { FP_RE, parseAddr, type RelayInfo } from "./link.ts";

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
        add(source, parseBootstrap(await readSat(origin, sat)));
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
