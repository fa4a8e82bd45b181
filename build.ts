#!/usr/bin/env bun
// Build: the browser library as one minified ES module with no imports (dist/lumamesh.js) and the
// relay as one executable (dist/lumamesh-relay). Prints raw, gzip and brotli bytes and the sha256
// of each artifact. Usage: bun run build.ts [--lib-only] [--out DIR] [--boot-sat N] [--bootstrap config.json]
// Release mode: bun run build.ts --release [--out DIR] [--offline] [--targets linux-x64,linux-arm64]
// writes lumamesh-relay-linux-x64, lumamesh-relay-linux-arm64 and SHA256SUMS (default dist/release/),
// the files install.sh downloads (docs/install.md).
import { brotliCompressSync, gzipSync, constants } from "node:zlib";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync, statSync, rmSync, mkdtempSync, copyFileSync, chmodSync, renameSync } from "node:fs";
import { join, resolve } from "node:path";
import { homedir, tmpdir } from "node:os";
import { rollupDts } from "./scripts/rollup-dts.ts";
import { transform } from "esbuild";
import { minify } from "terser";
import { DEFAULT_BUILD, type BuildConfig } from "./protocol/network.ts";

const ROOT = import.meta.dir;

export interface Sizes {
  raw: number;
  gzip: number;
  brotli: number;
  sha256: string;
}

/** Sizes as inscribed (brotli quality 11, window 24, as ord compresses); `quality` lowers both for huge files. */
export function measure(bytes: Uint8Array, quality = 11): Sizes {
  return {
    raw: bytes.length,
    gzip: gzipSync(bytes, { level: quality >= 9 ? 9 : quality }).length,
    brotli: brotliCompressSync(bytes, {
      params: {
        [constants.BROTLI_PARAM_QUALITY]: quality,
        [constants.BROTLI_PARAM_LGWIN]: 24,
        [constants.BROTLI_PARAM_SIZE_HINT]: bytes.length,
      },
    }).length,
    sha256: createHash("sha256").update(bytes).digest("hex"),
  };
}

/**
 * Property names inside the library that esbuild shortens (`mangleProps`): the members the mesh core
 * keeps (src/mesh.ts), the room's RoomHost and connections, a link's internals. Each is only ever
 * written as an identifier on the library's own objects: never read through a string, never a DOM or
 * JavaScript built-in name, never a key that reaches JSON, the wire or storage (a mangled JSON key would
 * change the format silently). A name that still appears after mangling fails the build.
 */
export const LIBRARY_MANGLED = [
  "proven",
  "said",
  "exp",
  "hello",
  "fb",
  "retry",
  "grace",
  "partial",
  "told",
  "cands",
  "settled",
  "isDown",
  "linkTo",
  "listen",
  "onframe",
  "pace",
  "tier",
  "fresh",
  "learned",
  "emit",
  "ses",
  "via",
  "pc",
  "dc",
  "records",
  "seen",
  "down",
  "refuse",
  "opened",
  "cand",
  "chan",
  "tick",
  "rx",
  "tx",
  "ice",
  "bad",
  "local",
  "st",
  "kind",
  "body",
  "rtt",
  "cert",
  "PC",
  "left",
  "key",
  "frame",
  "sats",
  "fatal",
  "maxBytes",
  "maxMessage",
  "maxPending",
  "ip",
  "port",
  "v6",
  "rooms",
] as const;

/** Bundle one browser entry point into a single minified ES module; returns its bytes. Bun bundles
 *  and minifies; esbuild's minifier then takes off what Bun leaves (~2 % raw) and, for the library
 *  (src/index.ts), shortens LIBRARY_MANGLED; terser goes last (names and inlining, ~6 % brotli):
 *  every byte of it is paid for on-chain. */
export async function bundle(entry: string, define: Record<string, string> = {}): Promise<Uint8Array> {
  const r = await Bun.build({
    entrypoints: [resolve(ROOT, entry)],
    target: "browser",
    format: "esm",
    minify: true,
    define,
  });
  if (!r.success) throw new AggregateError(r.logs, "build: bundling " + entry + " failed");
  const out = r.outputs.find((o) => o.kind === "entry-point")!;
  if (r.outputs.filter((o) => o.kind === "chunk").length)
    throw new Error(`build: ${entry} split into chunks; the library must be one file`);
  const library = resolve(ROOT, entry) === resolve(ROOT, "src/index.ts");
  const { code: es } = await transform(await out.text(), {
    minify: true,
    format: "esm",
    ...(library && { mangleProps: new RegExp(`^(${LIBRARY_MANGLED.join("|")})$`) }),
  });
  // terser last: its names (one scope's `e` reused in every inner scope that does not need the
  // outer one) and its inlining of functions used once compress better: ~650 B brotli of 10,574.
  const { code = "" } = await minify(es, { module: true, toplevel: true, compress: { passes: 2, hoist_funs: true }, mangle: true });
  // A name left as a property (.n, n: or n( as a key, {n, or ,n shorthand) or as a whole string ("n",
  // read through a string) after mangling; the same letters as a local name or inside a word are fine.
  for (const n of library ? LIBRARY_MANGLED : [])
    if (new RegExp(`\\.${n}\\b|[{,]${n}[:(,}]|["'\`]${n}["'\`]`).test(code))
      throw new Error(`build: "${n}" is still in ${entry} after mangling: it is used through a string (take it out of LIBRARY_MANGLED)`);
  assertNoImports(code, entry);
  return new TextEncoder().encode(code);
}

/** Throws if bundled code would import a module at run time: static imports, import() of a fixed
 *  module, re-exports. The one dynamic import allowed is the crypto fallback's, whose URL is computed. */
export function assertNoImports(code: string, name: string) {
  if (/(?:^|[;}\n])\s*import\s*[\w${*"']|\bimport\s*\(\s*["'`]|\bexport\s*[{*][^;]*\bfrom\s*["']/.test(code))
    throw new Error(`build: ${name} still imports something at run time`);
}

/**
 * Every byte of the library is paid for on-chain: its brotli budget (test/build.test.ts,
 * test/package.test.ts). It was 8,192 until the sans-IO mesh core and the hostile-relay/peer checks
 * (sessions and replay protection across LEFT/JOINED, proof before cost, candidate caps, WELCOME
 * floors, bounded reassembly and sends, trust tiers for learned relays, racing connects with
 * remembered round trips) took the library from 8,091 to ~10,600 bytes; then 10,752 held it until
 * the lint's eqeqeq (=== everywhere: ~61 B, esbuild keeps them) and the idle-link liveness ping
 * (~37 B) took it to ~10,800; keeping the relays learned by gossip across visits (so a page whose
 * bootstrap relays all died still reaches the network; ~35 B) and trying the next relay in a room's
 * ranking beside one that has not linked within 3 s (~70 B) to ~10,900. A first pass back down
 * (13 more names in LIBRARY_MANGLED, one sealMsg, hangUp, named ICE checks, declared error
 * properties; ~80 B) took it to 10,820, held by 10,880. A second pass (the mesh core hands actions
 * to the room as they arise and its tick() returns the next deadline; a precise mangled-name check
 * and 14 more names; rooms hear links through RoomHost.rooms; dead sums and branches out; ~300 B)
 * took it to 10,520. The idle link's PING moving from 30 s to 120 s of silence changed one literal
 * (3e4 → 12e4) and brotli by +54 B (10,574): at this size brotli's choices jump with any byte, so the
 * budget, 10,624, kept ~50 B of room. A third pass (issue 15) took it to 9,697: terser after esbuild
 * (−657 B: its names, one scope's `e` reused in every inner scope that needs no outer one, and its
 * inlining of functions used once), 9 more mangled names (~23 B), shorter messages (~90 B), the
 * frames' big-endian integers for every u32 instead of DataViews (~45 B), the HELLO bucket as a
 * time (~23 B), one now(), WELCOME's limits taken as they are checked, a stable sort, terser's
 * hoist_funs (~35 B). The budget, 9,750, keeps ~50 B of room. 8,192 needs ~1.5 KB more
 * (docs/architecture.md says where it is).
 */
export const LIBRARY_BUDGET_BROTLI = 9750;

/** What a build compiles into the library (src/discover.ts) and the relay (relay/discover.ts): one
 *  list, kept in protocol/network.ts with the project's sats. */
export { DEFAULT_BUILD, SATS, type BuildConfig } from "./protocol/network.ts";

export const libraryDefine = (c: BuildConfig) => ({ LUMAMESH_BUILD: JSON.stringify(c), LUMAMESH_BUILT: "true" });

/** dist/lumamesh.js, dist/lumamesh-fallback.js and dist/lumamesh.d.ts. */
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

/**
 * dist/lumamesh.d.ts: ONE self-contained declaration file with the public API only. tsc emits
 * per-module declarations with `--stripInternal` (no `@internal` member ships) into a temporary
 * folder (src/ and protocol/ side by side); scripts/rollup-dts.ts keeps what src/index.ts exports and what that reaches; the result
 * is then type-checked on its own (no skipLibCheck), so a broken roll-up fails the build.
 */
export function buildTypes(outDir: string): string {
  const tmp = mkdtempSync(join(tmpdir(), "lumamesh-dts-"));
  try {
    const tsc = join(ROOT, "node_modules/.bin/tsc");
    const common = ["--ignoreConfig", "--strict", "--target", "ES2022", "--lib", "ES2022,DOM", "--types", ""];
    const emit = Bun.spawnSync(
      [
        tsc,
        ...common,
        "--declaration",
        "--emitDeclarationOnly",
        "--stripInternal",
        "--outDir",
        tmp,
        "--rootDir",
        ROOT,
        "--skipLibCheck",
        "--module",
        "ESNext",
        "--moduleResolution",
        "bundler",
        "--allowImportingTsExtensions",
        join(ROOT, "src/index.ts"),
      ],
      { stdout: "pipe", stderr: "pipe" },
    );
    if (emit.exitCode !== 0) throw new Error("build: type declarations failed:\n" + emit.stdout.toString() + emit.stderr.toString());
    const header = `// lumamesh ${pkgVersion()}: the types of lumamesh.js, its public API (generated by build.ts from src/; do not edit).\n`;
    const dts = rollupDts(tmp, "src/index.d.ts", header);
    const out = join(outDir, "lumamesh.d.ts");
    writeFileSync(out, dts);
    const check = Bun.spawnSync([tsc, ...common, "--noEmit", "--module", "ESNext", "--moduleResolution", "bundler", out], {
      stdout: "pipe",
      stderr: "pipe",
    });
    if (check.exitCode !== 0)
      throw new Error("build: dist/lumamesh.d.ts does not type-check on its own:\n" + check.stdout.toString() + check.stderr.toString());
    rmSync(join(outDir, "types"), { recursive: true, force: true }); // the per-module files of earlier builds
    return dts;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

const pkgVersion = (): string => JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8")).version;

/** The relay compiled with the same relays and bootstrap sat as the library (relay/discover.ts). */
const relayDefine = (c: BuildConfig) => ["--define", `LUMAMESH_BUILD=${JSON.stringify(c)}`];

/** Compile the relay into one executable with `bun build --compile`. */
export async function buildRelay(
  outFile = join(ROOT, "dist", "lumamesh-relay"),
  target?: string,
  cfg: BuildConfig = DEFAULT_BUILD,
): Promise<string> {
  mkdirSync(resolve(outFile, ".."), { recursive: true });
  const args = [process.execPath, "build", "--compile", "--minify", ...relayDefine(cfg), join(ROOT, "relay/main.ts"), "--outfile", outFile];
  if (target) args.push("--target", target);
  const p = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0) throw new Error("build: compiling the relay failed:\n" + p.stderr.toString() + p.stdout.toString());
  return outFile;
}

// ---- Release artifacts: lumamesh-relay-linux-<arch> + SHA256SUMS, what install.sh downloads. ----

/** Release targets: the asset name's suffix (as install.sh maps `uname -m`) → Bun's compile target,
 *  its npm runtime package, and the ELF e_machine that proves a runtime is for that CPU. */
export const RELEASE_TARGETS = {
  "linux-x64": { bun: "bun-linux-x64", pkg: "@oven/bun-linux-x64", cache: "bun-linux-x64", arch: "x64", elfMachine: 0x3e },
  "linux-arm64": { bun: "bun-linux-arm64", pkg: "@oven/bun-linux-aarch64", cache: "bun-linux-aarch64", arch: "arm64", elfMachine: 0xb7 },
} as const;
export type ReleaseTarget = keyof typeof RELEASE_TARGETS;

export interface ReleaseOptions {
  targets?: ReleaseTarget[];
  /** Never run `npm pack` for a cross-compile runtime: use only one already on disk. */
  offline?: boolean;
  /** Where runtimes fetched with `npm pack` are kept (default node_modules/.cache/lumamesh-bun). */
  runtimeCache?: string;
  log?: (line: string) => void;
  /** Relays and bootstrap sat compiled in (default DEFAULT_BUILD, as the library's). */
  build?: BuildConfig;
}
export interface ReleaseResult {
  artifacts: { target: ReleaseTarget; name: string; path: string; size: number; sha256: string }[];
  skipped: { target: ReleaseTarget; reason: string }[];
}

const isNative = (t: ReleaseTarget) => process.platform === "linux" && RELEASE_TARGETS[t].arch === process.arch;

/** True if `path` is a 64-bit little-endian ELF executable for `machine` (e_machine at offset 18). */
export function elfMachineIs(path: string, machine: number): boolean {
  try {
    const h = readFileSync(path).subarray(0, 20);
    return (
      h.length === 20 &&
      h[0] === 0x7f &&
      h[1] === 0x45 &&
      h[2] === 0x4c &&
      h[3] === 0x46 &&
      h[4] === 2 &&
      h[5] === 1 &&
      (h[18] | (h[19] << 8)) === machine
    );
  } catch {
    return false;
  }
}

/**
 * The Bun runtime to embed for a cross-compiled target, at exactly this Bun's version (a standalone
 * executable is the runtime binary plus our bundle, so versions must match). `bun build --compile
 * --target` would download it itself on every fresh machine; looking for it here first lets a
 * release build run offline. In order:
 *   1. $LUMAMESH_BUN_LINUX_ARM64 (…_X64): a path to that runtime, e.g. from a mirror;
 *   2. Bun's own install cache (where an earlier `--target` build put it);
 *   3. our cache, filled once with `npm pack <pkg>@<version>` (npm checks the package's integrity);
 * Returns the path, or a reason it is not available.
 */
export function crossRuntime(t: ReleaseTarget, opts: ReleaseOptions = {}): { path: string } | { reason: string } {
  const spec = RELEASE_TARGETS[t];
  const version = Bun.version;
  const envName = "LUMAMESH_BUN_" + t.toUpperCase().replace("-", "_");
  const fromEnv = process.env[envName];
  if (fromEnv)
    return elfMachineIs(fromEnv, spec.elfMachine) ? { path: fromEnv } : { reason: `${envName}=${fromEnv} is not a ${t} executable` };
  const name = `${spec.cache}-v${version}`;
  const bunCache = process.env.BUN_INSTALL_CACHE_DIR ?? join(process.env.BUN_INSTALL ?? join(homedir(), ".bun"), "install", "cache");
  const ours = opts.runtimeCache ?? join(ROOT, "node_modules", ".cache", "lumamesh-bun");
  for (const p of [join(bunCache, name), join(ours, name)]) if (elfMachineIs(p, spec.elfMachine)) return { path: p };
  if (opts.offline) return { reason: `no ${name} runtime on disk (offline; set ${envName} or run once without --offline)` };
  // npm pack fetches through the registry npm is configured for; nothing else is contacted.
  const tmp = mkdtempSync(join(tmpdir(), "lumamesh-runtime-"));
  try {
    const pack = Bun.spawnSync(["npm", "pack", "--loglevel=error", `${spec.pkg}@${version}`], { cwd: tmp, stdout: "pipe", stderr: "pipe" });
    const tgz = pack.stdout.toString().trim().split("\n").pop() ?? "";
    const why = pack.stderr
      .toString()
      .split("\n")
      .find((l) => /\S/.test(l))
      ?.replace(/^npm (ERR!|error)\s*/, "")
      .slice(0, 200);
    if (pack.exitCode !== 0 || !tgz)
      return {
        reason: `npm pack ${spec.pkg}@${version} failed (${why || "exit " + pack.exitCode}); without network, set ${envName} to that runtime`,
      };
    const untar = Bun.spawnSync(["tar", "-xzf", join(tmp, tgz), "-C", tmp], { stdout: "pipe", stderr: "pipe" });
    if (untar.exitCode !== 0) return { reason: `could not unpack ${tgz}: ${untar.stderr.toString().trim()}` };
    const meta = JSON.parse(readFileSync(join(tmp, "package", "package.json"), "utf8"));
    const bin = join(tmp, "package", "bin", "bun");
    if (meta.name !== spec.pkg || meta.version !== version || !elfMachineIs(bin, spec.elfMachine))
      return { reason: `${tgz} is not ${spec.pkg}@${version} for ${t}` };
    mkdirSync(ours, { recursive: true });
    const dest = join(ours, name);
    copyFileSync(bin, dest + ".part");
    chmodSync(dest + ".part", 0o755);
    renameSync(dest + ".part", dest);
    return { path: dest };
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** Compile the relay for one release target: natively for this machine's own, else with a cross runtime. */
export function compileRelease(t: ReleaseTarget, outFile: string, opts: ReleaseOptions = {}): { ok: true } | { ok: false; reason: string } {
  const args = [
    process.execPath,
    "build",
    "--compile",
    "--minify",
    ...relayDefine(opts.build ?? DEFAULT_BUILD),
    join(ROOT, "relay/main.ts"),
    "--outfile",
    outFile,
  ];
  if (!isNative(t)) {
    const rt = crossRuntime(t, opts);
    if ("reason" in rt) return { ok: false, reason: rt.reason };
    args.push("--target", RELEASE_TARGETS[t].bun, "--compile-executable-path", rt.path);
  }
  const p = Bun.spawnSync(args, { stdout: "pipe", stderr: "pipe" });
  if (p.exitCode !== 0)
    return { ok: false, reason: "bun build --compile failed: " + (p.stderr.toString() + p.stdout.toString()).trim().slice(-500) };
  if (!elfMachineIs(outFile, RELEASE_TARGETS[t].elfMachine)) return { ok: false, reason: `${outFile} is not a ${t} executable` };
  return { ok: true };
}

/** `sha256sum` format: "<hex>  <name>" per line (text mode, two spaces), as `sha256sum -c` reads it. */
export function sha256sums(rows: { name: string; sha256: string }[]): string {
  return rows.map((r) => `${r.sha256}  ${r.name}\n`).join("");
}

/**
 * dist/release/: lumamesh-relay-<target> for each target that can be built here, and SHA256SUMS
 * listing exactly those. A target that cannot be built (no cross runtime) is skipped with a reason,
 * never silently; this machine's own target must build or this throws.
 */
export async function buildRelease(outDir = join(ROOT, "dist", "release"), opts: ReleaseOptions = {}): Promise<ReleaseResult> {
  const log = opts.log ?? ((l: string) => console.log(l));
  const targets = opts.targets ?? (Object.keys(RELEASE_TARGETS) as ReleaseTarget[]);
  for (const t of targets)
    if (!(t in RELEASE_TARGETS))
      throw new Error(`build: unknown release target ${JSON.stringify(t)} (known: ${Object.keys(RELEASE_TARGETS).join(", ")})`);
  mkdirSync(outDir, { recursive: true });
  const res: ReleaseResult = { artifacts: [], skipped: [] };
  for (const t of targets) {
    const name = `lumamesh-relay-${t}`;
    const path = join(outDir, name);
    rmSync(path, { force: true });
    const r = compileRelease(t, path, opts);
    if (!r.ok) {
      if (isNative(t)) throw new Error(`build: ${name}: ${r.reason}`);
      log(`build: skipping ${name}: ${r.reason}`);
      res.skipped.push({ target: t, reason: r.reason });
      continue;
    }
    const bytes = readFileSync(path);
    res.artifacts.push({ target: t, name, path, size: bytes.length, sha256: createHash("sha256").update(bytes).digest("hex") });
  }
  writeFileSync(join(outDir, "SHA256SUMS"), sha256sums(res.artifacts));
  for (const a of res.artifacts) log(`${a.sha256}  ${a.name}  (${a.size} bytes)`);
  return res;
}

export function table(rows: [string, Sizes][]): string {
  const head = ["artifact", "raw", "gzip", "brotli", "sha256"];
  const body = rows.map(([n, s]) => [n, String(s.raw), String(s.gzip), String(s.brotli), s.sha256]);
  const w = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (r: string[]) => r.map((c, i) => (i && i < 4 ? c.padStart(w[i]) : c.padEnd(w[i]))).join("  ");
  return [line(head), ...body.map(line)].join("\n");
}

if (import.meta.main && process.argv.includes("--release")) {
  // bun run build.ts --release [--out DIR] [--offline] [--targets linux-x64,linux-arm64]
  const args = process.argv.slice(2);
  const opt = (f: string) => (args.includes(f) ? args[args.indexOf(f) + 1] : undefined);
  const out = resolve(opt("--out") ?? join(ROOT, "dist", "release"));
  const targets = opt("--targets")?.split(",").filter(Boolean) as ReleaseTarget[] | undefined;
  const r = await buildRelease(out, { targets, offline: args.includes("--offline") });
  console.log(
    `build: ${r.artifacts.length} artifact(s) and SHA256SUMS in ${out}` +
      (r.skipped.length ? `; skipped ${r.skipped.map((s) => s.target).join(", ")}` : ""),
  );
} else if (import.meta.main) {
  const args = process.argv.slice(2);
  const out = args.includes("--out") ? resolve(args[args.indexOf("--out") + 1]) : join(ROOT, "dist");
  const rows: [string, Sizes][] = [];
  const cfg = { ...DEFAULT_BUILD };
  if (args.includes("--boot-sat")) cfg.bootSat = Number(args[args.indexOf("--boot-sat") + 1]);
  if (args.includes("--bootstrap")) {
    const j = JSON.parse(readFileSync(args[args.indexOf("--bootstrap") + 1], "utf8"));
    if (j.lumamesh !== 1 || !Array.isArray(j.relays))
      throw new Error("build: --bootstrap must be a bootstrap config (docs/protocol.md §5)");
    cfg.relays = j.relays.map((r: { addr: string; fp: string }) => ({ addr: r.addr, fp: r.fp }));
  }
  const lib = await buildLibrary(out, cfg);
  for (const [n, b] of Object.entries(lib)) rows.push([n, measure(b)]);
  if (!args.includes("--lib-only")) {
    const exe = await buildRelay(join(out, "lumamesh-relay"), undefined, cfg);
    const bytes = readFileSync(exe);
    // Brotli 11 over a ~100 MB executable takes minutes; quality 5 is representative for a download.
    rows.push(["lumamesh-relay (gzip 5, br 5)", measure(bytes, 5)]);
    if (statSync(exe).size !== bytes.length) throw new Error("build: relay size changed while measuring");
  }
  console.log(table(rows));
  writeFileSync(join(out, "SIZES.txt"), table(rows) + "\n");
}
