#!/usr/bin/env bun
// Build: the browser library as one minified ES module with no imports (dist/lumamesh.js) and the
// relay as one executable (dist/lumamesh-relay). Prints raw, gzip and brotli bytes and the sha256
// of each artifact. Usage: bun run build.ts [--lib-only] [--out DIR] [--boot-sat N] [--bootstrap config.json]
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, statSync, readdirSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";

const ROOT = import.meta.dir;

export interface Sizes { raw: number; gzip: number; brotli: number; sha256: string }

/** Sizes as inscribed (brotli quality 11, window 24, as ord compresses); `quality` lowers both for huge files. */
export function measure(bytes: Uint8Array, quality = 11): Sizes {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: quality >= 9 ? 9 : quality }).length,
    brotli: brotliCompressSync(bytes, { params: { [constants.BROTLI_PARAM_QUALITY]: quality, [constants.BROTLI_PARAM_LGWIN]: 24, [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length } }).length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

/** Bundle one browser entry point into a single minified ES module; returns its bytes. */
export async function bundle(entry: string, define: Record<string, string> = {}): Promise<Uint8Array> {
  const r = await Bun.build({
    entrypoints: [resolve(ROOT, entry)],
    target: "browser",
    format: "esm",
    minify: true,
    define,
  });
  if (!r.success) throw new AggregateError(r.logs, "build: bundling " + entry + " failed");
  const out = r.outputs.find((o) => o.kind == "entry-point")!;
  const bytes = new Uint8Array(await out.arrayBuffer());
  if (r.outputs.filter((o) => o.kind == "chunk").length) throw new Error(`build: ${entry} split into chunks; the library must be one file`);
  assertNoImports(new TextDecoder().decode(bytes), entry);
  return bytes;
}

/** Throws if bundled code would import a module at run time: static imports, import() of a fixed
 *  module, re-exports. The one dynamic import allowed is the crypto fallback's, whose URL is computed. */
export function assertNoImports(code: string, name: string) {
  if (/(?:^|[;}\n])\s*import\s*[\w${*"']|\bimport\s*\(\s*["'`]|\bexport\s*[{*][^;]*\bfrom\s*["']/.test(code)) throw new Error(`build: ${name} still imports something at run time`);
}

/** What a build compiles into the library (see src/discover.ts). */
export interface BuildConfig {
  /** The bootstrap sat: its newest inscription is the relay list (docs/protocol.md §5). */
  bootSat: number;
  /** Relays compiled in, used when no ord server answers. */
  relays: { addr: string; fp: string }[];
  /** Where the crypto fallback module is, relative to the library's own URL. */
  fallback: string;
}

/** The project's sats. Placeholders until the maintainers inscribe them on mainnet (docs/inscribe.md). */
export const SATS = { lib: 25483050765715, boot: 25483050765716, fallback: 25483050765717 } as const;
export const DEFAULT_BUILD: BuildConfig = { bootSat: SATS.boot, relays: [], fallback: `/r/sat/${SATS.fallback}/at/-1/content` };

export const libraryDefine = (c: BuildConfig) => ({ LUMAMESH_BUILD: JSON.stringify(c) });

/** dist/lumamesh.js, dist/lumamesh-fallback.js and dist/lumamesh.d.ts (+ dist/types/). */
export async function buildLibrary(outDir = join(ROOT, "dist"), cfg: BuildConfig = DEFAULT_BUILD): Promise<Record<string, Uint8Array>> {
  mkdirSync(outDir, { recursive: true });
  const files: Record<string, Uint8Array> = {
    "lumamesh.js": await bundle("src/index.ts", libraryDefine(cfg)),
    "lumamesh-fallback.js": await bundle("src/fallback.ts"),
  };
  for (const [name, bytes] of Object.entries(files)) writeFileSync(join(outDir, name), bytes);
  buildTypes(outDir);
  return files;
}

/** Type declarations: dist/types/*.d.ts and dist/lumamesh.d.ts re-exporting them. */
export function buildTypes(outDir: string) {
  const types = join(outDir, "types");
  rmSync(types, { recursive: true, force: true });
  const tsc = join(ROOT, "node_modules/.bin/tsc");
  const p = Bun.spawnSync([tsc, "--ignoreConfig", "--declaration", "--emitDeclarationOnly", "--outDir", types, "--rootDir", join(ROOT, "src"), "--skipLibCheck", "--strict",
    "--target", "ES2022", "--module", "ESNext", "--moduleResolution", "bundler", "--allowImportingTsExtensions", "--lib", "ES2022,DOM", "--types", "", join(ROOT, "src/index.ts")], { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode != 0) throw new Error("build: type declarations failed:\n" + p.stdout.toString() + p.stderr.toString());
  for (const f of readdirSync(types)) {
    const path = join(types, f);
    writeFileSync(path, readFileSync(path, "utf8").replace(/(from\s+["']\.\/[\w-]+)\.ts(["'])/g, "$1.js$2"));
  }
  writeFileSync(join(outDir, "lumamesh.d.ts"), '// Types of dist/lumamesh.js.\nexport * from "./types/index.js";\n');
}

/** Compile the relay into one executable with `bun build --compile`. */
export async function buildRelay(outFile = join(ROOT, "dist", "lumamesh-relay"), target?: string): Promise<string> {
  mkdirSync(resolve(outFile, ".."), { recursive: true });
  const args = [process.execPath, "build", "--compile", "--minify", join(ROOT, "relay/main.ts"), "--outfile", outFile];
  if (target) args.push("--target", target);
  const p = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode != 0) throw new Error("build: compiling the relay failed:\n" + p.stderr.toString() + p.stdout.toString());
  return outFile;
}

export function table(rows: [string, Sizes][]): string {
  const head = ["artifact", "raw", "gzip", "brotli", "sha256"];
  const body = rows.map(([n, s]) => [n, String(s.raw), String(s.gzip), String(s.brotli), s.sha256]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i && i < 4 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  return [line(head), ...body.map(line)].join("\n");
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  const out = args.includes("--out") ? resolve(args[args.indexOf("--out") + 1]) : join(ROOT, "dist");
  const rows: [string, Sizes][] = [];
  const cfg = { ...DEFAULT_BUILD };
  if (args.includes("--boot-sat")) cfg.bootSat = Number(args[args.indexOf("--boot-sat") + 1]);
  if (args.includes("--bootstrap")) {
    const j = JSON.parse(readFileSync(args[args.indexOf("--bootstrap") + 1], "utf8"));
    if (j.lumamesh !== 1 || !Array.isArray(j.relays)) throw new Error("build: --bootstrap must be a bootstrap config (docs/protocol.md §5)");
    cfg.relays = j.relays.map((r: { addr: string; fp: string }) => ({ addr: r.addr, fp: r.fp }));
  }
  const lib = await buildLibrary(out, cfg);
  for (const [n, b] of Object.entries(lib)) rows.push([n, measure(b)]);
  if (!args.includes("--lib-only")) {
    const exe = await buildRelay(join(out, "lumamesh-relay"));
    const bytes = readFileSync(exe);
    // Brotli 11 over a ~100 MB executable takes minutes; quality 5 is representative for a download.
    rows.push(["lumamesh-relay (gzip 5, br 5)", measure(bytes, 5)]);
    if (statSync(exe).size != bytes.length) throw new Error("build: relay size changed while measuring");
  }
  console.log(table(rows));
  writeFileSync(join(out, "SIZES.txt"), table(rows) + "\n");
}
