// Where a relay started with no configuration finds other relays: the way a page does
// (src/discover.ts, docs/protocol.md §5). In order: the bootstrap sat read through an ord server
// (`--ord`, default the public origin pages use; `{sat}` entries are registered relays whose signed
// record is the newest inscription on that sat), the relays compiled into this build (one list with
// the library's: protocol/network.ts, build.ts), and the relays this relay vouched for on its last
// run (relays.json in its data dir). Each source is checked strictly and reported with what it gave
// or why it was skipped. `--peer` replaces all of them.
import { readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { bootstrapText, parseBootstrap, MAX_BOOTSTRAP_ENTRIES, type RelayInfo } from "../protocol/bootstrap.ts";
import { DEFAULT_BUILD, type BuildConfig } from "../protocol/network.ts";
import { checkRecord } from "./record.ts";

/** Build-time settings: build.ts compiles the relay with the same LUMAMESH_BUILD as the library. */
declare const LUMAMESH_BUILD: BuildConfig | undefined;
export const BUILD: BuildConfig = typeof LUMAMESH_BUILD === "object" ? LUMAMESH_BUILD : DEFAULT_BUILD;

export interface SourceReport {
  source: string;
  /** Relays it gave, or why it was skipped. */
  relays?: number;
  reason?: string;
}

export interface DiscoverOptions {
  /** ord server origins to read the bootstrap sat from; none when empty. */
  ord: string[];
  bootSat?: number;
  /** Relays compiled in (default: this build's). */
  compiled?: RelayInfo[];
  /** The data dir holding relays.json from an earlier run, if any. */
  dataDir?: string;
  fetch?: typeof fetch;
  /** Per request (default 5000 ms). */
  timeoutMs?: number;
}

export const CACHE_FILE = "relays.json";
/** Bytes read from one ord response at most: a config of 64 entries or one record is far smaller. */
const MAX_BODY = 65536;
/** Relays remembered in relays.json. */
export const MAX_CACHED = 64;

async function readSat(o: DiscoverOptions, origin: string, sat: number): Promise<string> {
  const path = `/r/sat/${sat}/at/-1/content`;
  const r = await (o.fetch ?? fetch)(origin + path, { signal: AbortSignal.timeout(o.timeoutMs ?? 5000) });
  if (!r.ok) throw new Error(`${path}: HTTP ${r.status}`);
  const reader = r.body?.getReader();
  const parts: Uint8Array[] = [];
  let n = 0;
  for (;;) {
    const c = await reader?.read();
    if (!c || c.done) break;
    n += c.value.length;
    if (n > MAX_BODY) {
      await reader!.cancel().catch(() => {});
      throw new Error(`${path}: more than ${MAX_BODY} bytes`);
    }
    parts.push(c.value);
  }
  return new TextDecoder().decode(Buffer.concat(parts));
}

/** The relays this relay can start from, and what each source gave. Never throws. */
export async function discoverRelays(o: DiscoverOptions): Promise<{ relays: RelayInfo[]; sources: SourceReport[] }> {
  const sources: SourceReport[] = [];
  const out = new Map<string, RelayInfo>();
  const add = (source: string, got: RelayInfo[] | string) => {
    if (typeof got === "string") return void sources.push({ source, reason: got });
    sources.push({ source, relays: got.length });
    for (const r of got) if (!out.has(r.addr)) out.set(r.addr, { addr: r.addr, fp: r.fp });
  };
  const sat = o.bootSat ?? BUILD.bootSat;
  for (const origin of o.ord) {
    const source = `${origin}/r/sat/${sat}`;
    try {
      const b = parseBootstrap(await readSat(o, origin, sat));
      if (typeof b === "string") throw new Error(b);
      // {"sat": N}: a registered relay, its signed record the newest inscription on N (checked here).
      const recs = await Promise.all(
        b.sats.slice(0, MAX_BOOTSTRAP_ENTRIES).map(async (n) => {
          try {
            const r = checkRecord(JSON.parse(await readSat(o, origin, n)));
            return typeof r === "string" ? [] : [{ addr: r.addr, fp: r.fp }];
          } catch {
            return [];
          }
        }),
      );
      add(source, [...b.relays, ...recs.flat()]);
    } catch (e) {
      add(source, String((e as Error)?.message ?? e));
    }
  }
  const compiled = o.compiled ?? BUILD.relays;
  add("compiled-in", compiled.length ? compiled : "empty");
  if (o.dataDir) add(CACHE_FILE, readCache(o.dataDir));
  return { relays: [...out.values()], sources };
}

/** relays.json from an earlier run: its relays, or why there are none. */
export function readCache(dir: string): RelayInfo[] | string {
  let text: string;
  try {
    text = readFileSync(join(dir, CACHE_FILE), "utf8");
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "ENOENT" ? "empty" : `cannot read: ${(e as Error).message}`;
  }
  const b = parseBootstrap(text);
  return typeof b === "string" ? b : b.relays;
}

/** Remember the relays this relay vouches for, for its next start (atomically; best effort). */
export function writeCache(dir: string, relays: RelayInfo[]): void {
  const path = join(dir, CACHE_FILE);
  writeFileSync(path + ".tmp", bootstrapText(relays.slice(0, MAX_CACHED).map((r) => ({ addr: r.addr, fp: r.fp }))) + "\n", { mode: 0o644 });
  renameSync(path + ".tmp", path);
}
