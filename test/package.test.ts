// The npm package as a user meets it: `npm pack` in the checkout (prepack builds dist/), the
// tarball's exact file list, installed OFFLINE into a temp project with an empty npm cache (the
// package has no dependencies, so nothing is fetched), a five-line app type-checked against it with
// the repository's TypeScript (bundler and nodenext resolution), code touching an @internal member
// refused, and the app bundled with esbuild and with Bun into code that imports nothing at run time.
import { test, expect, describe, beforeAll, afterAll } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { createHash } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import * as esbuild from "esbuild";
import { assertNoImports, bundle, measure, DEFAULT_BUILD, libraryDefine, LIBRARY_BUDGET_BROTLI } from "../build.ts";

const ROOT = join(import.meta.dir, "..");
const TSC = join(ROOT, "node_modules/.bin/tsc");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

function sh(cmd: string[], cwd: string, env: Record<string, string> = {}) {
  const p = Bun.spawnSync(cmd, { cwd, stdout: "pipe", stderr: "pipe", env: { ...process.env, ...env } });
  return { code: p.exitCode, out: p.stdout.toString(), err: p.stderr.toString() };
}

/** The app a user writes: five lines against the package's public API. */
const APP = `import { connect, ConnectError, type Room } from "lumamesh";
const net = await connect({ relays: [{ addr: "127.0.0.1:4884", fp: "${"AB:".repeat(31)}AB" }], timeout: 5000 }).catch((e: unknown) => { throw e instanceof ConnectError ? new Error(e.attempts.map((a) => a.reason).join()) : e; });
const room: Room = await net.joinRoom("my-app", { nick: "alice" });
room.on("message", (data, peer) => console.log(peer.nick, peer.path, data));
await room.send({ hello: "world" });
`;

let work: string;
let app: string;
let packed: { filename: string; size: number; unpackedSize: number; files: { path: string; size: number }[] };
beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), "lumamesh-pack-"));
  // Exactly what `npm publish` would upload: prepack (build.ts --lib-only) runs first.
  const p = sh(["npm", "pack", "--json", "--pack-destination", work], ROOT);
  expect(p.err).not.toContain("ERR");
  expect(p.code).toBe(0);
  packed = JSON.parse(p.out.slice(p.out.search(/^\[/m)))[0];
  app = join(work, "app");
  mkdirSync(app);
  writeFileSync(join(app, "package.json"), JSON.stringify({ name: "app", private: true, type: "module" }));
  // --offline with an empty cache and a registry that refuses connections: anything to fetch fails.
  const i = sh(
    [
      "npm",
      "install",
      "--offline",
      "--no-audit",
      "--no-fund",
      "--cache",
      join(work, "npm-cache"),
      "--registry",
      "http://127.0.0.1:9/",
      join(work, packed.filename),
    ],
    app,
  );
  expect(i.err).not.toMatch(/ERR|ENOTCACHED/);
  expect(i.code).toBe(0);
}, 120000);
afterAll(() => work && rmSync(work, { recursive: true, force: true }));

describe("npm pack", () => {
  test("the tarball holds the library, its fallback, its one .d.ts, README and package.json, nothing else (sizes printed)", () => {
    console.log(`${packed.filename}: ${packed.size} bytes packed, ${packed.unpackedSize} unpacked`);
    for (const f of packed.files) console.log(`  ${f.path.padEnd(28)} ${String(f.size).padStart(6)}`);
    expect(packed.files.map((f) => f.path).sort()).toEqual([
      "README.md",
      "dist/lumamesh-fallback.js",
      "dist/lumamesh.d.ts",
      "dist/lumamesh.js",
      "package.json",
    ]);
  });

  test("what was packed is this checkout's build: the same bytes a fresh bundle gives", async () => {
    const shipped = readFileSync(join(app, "node_modules/lumamesh/dist/lumamesh.js"));
    expect(sha(shipped)).toBe(sha(await bundle("src/index.ts", libraryDefine(DEFAULT_BUILD))));
    expect(measure(shipped).brotli).toBeLessThanOrEqual(LIBRARY_BUDGET_BROTLI);
  });
});

describe("npm install <tarball> into a fresh project", () => {
  test("installs lumamesh and nothing else: no dependencies, no bin, no install scripts", () => {
    expect(readdirSync(join(app, "node_modules")).filter((n) => !n.startsWith("."))).toEqual(["lumamesh"]);
    const installed = JSON.parse(readFileSync(join(app, "node_modules/lumamesh/package.json"), "utf8"));
    expect(installed.version).toBe(pkg.version);
    for (const k of ["dependencies", "peerDependencies", "optionalDependencies", "bin"])
      expect({ [k]: installed[k] }).toEqual({ [k]: undefined });
    for (const s of ["preinstall", "install", "postinstall", "prepare"])
      expect({ [s]: installed.scripts?.[s] }).toEqual({ [s]: undefined });
  });

  for (const resolution of ["bundler", "nodenext"] as const)
    test(`a five-line app type-checks against it (moduleResolution ${resolution}, the repository's tsc)`, () => {
      const dir = join(app, resolution);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, "app.ts"), APP);
      writeFileSync(
        join(dir, "tsconfig.json"),
        JSON.stringify({
          compilerOptions: {
            strict: true,
            noEmit: true,
            target: "ES2022",
            lib: ["ES2022", "DOM"],
            types: [],
            module: resolution === "bundler" ? "ESNext" : "NodeNext",
            moduleResolution: resolution,
            skipLibCheck: false,
          },
          files: ["app.ts"],
        }),
      );
      const r = sh([TSC, "-p", dir], app);
      expect(r.out + r.err).toBe("");
      expect(r.code).toBe(0);
    });

  test("internals are not there: each @internal member is a type error in a user's code", () => {
    const dir = join(app, "internal");
    mkdirSync(dir, { recursive: true });
    const lines = ['import { connect } from "lumamesh";', "const net = await connect();"];
    const expected: string[] = [];
    const src = readFileSync(join(ROOT, "src/net.ts"), "utf8");
    for (const m of src.matchAll(/\/\*\*\s*@internal[\s\S]*?\*\/\s*\n\s*(\w+)\s*[:(]/g)) {
      const name = m[1];
      const owner = [...src.slice(0, m.index).matchAll(/^export (?:interface|type) (\w+)/gm)].pop()?.[1];
      // Net's members are used as net.X; NetEvents' entries as net.on("X", …).
      if (owner === "NetEvents") lines.push(`net.on("${name}", () => {});`), expected.push(`'"${name}"'`);
      else if (owner === "Net") lines.push(`net.${name};`), expected.push(`Property '${name}' does not exist on type 'Net'`);
      else throw new Error(`no user-side check for @internal ${name} in ${owner}: add one here`);
    }
    expect(expected.length).toBeGreaterThanOrEqual(1); // Net.send today (rooms hear frames through RoomHost.rooms)
    writeFileSync(join(dir, "bad.ts"), lines.join("\n") + "\n");
    writeFileSync(
      join(dir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          strict: true,
          noEmit: true,
          target: "ES2022",
          lib: ["ES2022", "DOM"],
          types: [],
          module: "ESNext",
          moduleResolution: "bundler",
        },
        files: ["bad.ts"],
      }),
    );
    const r = sh([TSC, "-p", dir], app);
    expect(r.code).not.toBe(0);
    const errors = r.out.split("\n").filter((l) => l.includes("error TS"));
    expect(errors).toHaveLength(expected.length); // one error per internal member, nothing else
    for (const e of expected) expect(errors.some((l) => l.includes(e))).toBe(true);
  });

  test("the app bundles (esbuild, Bun) into one module with no run-time imports; lumamesh/fallback resolves", async () => {
    const entry = join(app, "main.ts");
    writeFileSync(entry, APP);
    const viaEsbuild = await esbuild.build({
      entryPoints: [entry],
      bundle: true,
      format: "esm",
      platform: "browser",
      target: "es2022",
      write: false,
      absWorkingDir: app,
      logLevel: "silent",
    });
    const a = viaEsbuild.outputFiles[0].text;
    const viaBun = await Bun.build({ entrypoints: [entry], target: "browser", format: "esm", minify: true });
    expect(viaBun.success).toBe(true);
    const b = await viaBun.outputs[0].text();
    for (const [name, code] of [
      ["esbuild", a],
      ["bun", b],
    ]) {
      assertNoImports(code, name); // throws on a static import, a fixed import() or a re-export
      expect(code).toContain("lumamesh: no relay reachable"); // the library is in there, not referenced
    }
    const fb = await esbuild.build({
      stdin: { contents: 'export { nobleCrypto } from "lumamesh/fallback";', resolveDir: app },
      bundle: true,
      format: "esm",
      write: false,
      logLevel: "silent",
    });
    expect(fb.outputFiles[0].text).toContain("nobleCrypto");
  });
});
