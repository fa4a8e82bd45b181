// Bundle-size section: each library's "join a room and send a message" page (bench/entries/),
// bundled the same way with esbuild (--bundle --minify --format=esm --platform=browser), then
// raw, gzip (level 9) and brotli (quality 11) bytes. Lumamesh is bundled from src/index.ts.
import { build } from "esbuild";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";
import { join } from "node:path";
import { libVersion, type Row } from "./util.ts";

const BUNDLE_METRIC = `bundle bytes raw / gzip / brotli (${libVersion("esbuild")} --minify, esm)`;
export const ENTRIES = {
  lumamesh: { file: "lumamesh.js", lib: "lumamesh" },
  "trystero-torrent": { file: "trystero-torrent.js", lib: "@trystero-p2p/torrent" },
  "trystero-nostr": { file: "trystero-nostr.js", lib: "@trystero-p2p/nostr" },
  peerjs: { file: "peerjs.js", lib: "peerjs" },
  "simple-peer": { file: "simple-peer.js", lib: "simple-peer" },
  p2pcf: { file: "p2pcf.js", lib: "p2pcf" },
} as const;
export type EntryName = keyof typeof ENTRIES;

const cache = new Map<string, Promise<Uint8Array>>();
/** The minified ESM bundle of one entry (built once per process). */
export function bundleEntry(name: EntryName): Promise<Uint8Array> {
  let p = cache.get(name);
  if (!p) {
    p = build({
      entryPoints: [join(import.meta.dir, "entries", ENTRIES[name].file)],
      bundle: true,
      minify: true,
      format: "esm",
      platform: "browser",
      write: false,
      logLevel: "silent",
      // simple-peer and peerjs expect Node's `global`; what an app bundling them has to add as well.
      define: { global: "globalThis" },
    }).then((r) => r.outputFiles[0].contents);
    cache.set(name, p);
  }
  return p;
}

export async function benchSize(): Promise<Row[]> {
  const sizes: Record<string, { raw: number; gz: number; br: number }> = {};
  const rows: Row[] = [];
  for (const name of Object.keys(ENTRIES) as EntryName[]) {
    try {
      const js = await bundleEntry(name);
      sizes[name] = {
        raw: js.length,
        gz: gzipSync(js, { level: 9 }).length,
        br: brotliCompressSync(js, { params: { [constants.BROTLI_PARAM_QUALITY]: 11, [constants.BROTLI_PARAM_LGWIN]: 24 } }).length,
      };
    } catch (e) {
      rows.push({
        section: "size",
        metric: BUNDLE_METRIC,
        library: libVersion(ENTRIES[name].lib),
        value: `n/a (${String(e).slice(0, 80)})`,
        ratio: "",
      });
    }
  }
  const ours = sizes.lumamesh;
  for (const [name, s] of Object.entries(sizes)) {
    const r = (k: "raw" | "gz" | "br") => (s[k] / ours[k]).toFixed(1);
    rows.push({
      section: "size",
      metric: BUNDLE_METRIC,
      library: libVersion(ENTRIES[name as EntryName].lib) + (name.startsWith("trystero") ? ` (${name.slice(9)})` : ""),
      value: `${s.raw} / ${s.gz} / ${s.br}`,
      ratio: name === "lumamesh" ? "1 (ours)" : `theirs/ours ${r("raw")} / ${r("gz")} / ${r("br")}`,
    });
  }
  return rows;
}
