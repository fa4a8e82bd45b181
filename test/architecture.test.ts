// The import graph of the repository (docs/architecture.md): no import circles; relay/ and dev/ import
// nothing from src/, src/ nothing from relay/, dev/, inscribe/ — protocol/ is what they share, and it
// imports only itself. Read from the sources, every static and dynamic import with a relative path.
import { expect, test } from "bun:test";
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";

const ROOT = join(import.meta.dir, "..");
const DIRS = ["protocol", "src", "relay", "inscribe", "dev", "bench", "scripts"];

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((n) => {
    const p = join(dir, n);
    return statSync(p).isDirectory() ? (n === "node_modules" || n === "static" ? [] : files(p)) : /\.ts$/.test(n) ? [p] : [];
  });
}
const graph = new Map<string, string[]>();
for (const d of DIRS)
  for (const f of files(join(ROOT, d))) {
    const text = readFileSync(f, "utf8");
    const deps = [
      ...text.matchAll(/(?:^|\n)\s*(?:import|export)[^"'`;]*?from\s*["'](\.{1,2}\/[^"']+)["']|import\(\s*["'](\.{1,2}\/[^"']+)["']\s*\)/g),
    ].map((m) => relative(ROOT, resolve(dirname(f), m[1] ?? m[2]!)));
    graph.set(relative(ROOT, f), deps);
  }
const top = (f: string) => f.split("/")[0]!;

test("the graph is read (every top folder has sources and imports)", () => {
  for (const d of DIRS) expect([...graph.keys()].some((f) => top(f) === d)).toBe(true);
  expect([...graph.values()].flat().length).toBeGreaterThan(100);
});

test("who may import whom", () => {
  const bad: string[] = [];
  const may: Record<string, string[]> = {
    protocol: ["protocol"],
    src: ["src", "protocol"],
    relay: ["relay", "protocol", "inscribe", "package.json"],
    inscribe: ["inscribe", "protocol"],
    dev: ["dev", "protocol", "relay", "inscribe", "build.ts", "package.json"],
    bench: ["bench", "protocol", "relay", "src", "inscribe", "dev", "test", "build.ts", "package.json"],
    scripts: ["scripts", "dev", "build.ts", "protocol", "relay", "src"], // maintainer tools (vectors, start)
  };
  // inscribe/testing/ holds the stand-ins (an in-memory chain served as Esplora, Core RPC and ord, the
  // last being dev's ord server): for tests and the regtest sandbox, never for inscribing on a real chain.
  const allowed = (f: string, d: string) => may[top(f)]!.includes(top(d)) || (f.startsWith("inscribe/testing/") && top(d) === "dev");
  for (const [f, deps] of graph) for (const d of deps) if (!allowed(f, d)) bad.push(`${f} → ${d}`);
  expect(bad).toEqual([]);
});

test("no import circles", () => {
  const circles: string[] = [];
  const state = new Map<string, 1 | 2>();
  const walk = (f: string, path: string[]) => {
    if (state.get(f) === 2) return;
    if (state.get(f) === 1) return void circles.push([...path.slice(path.indexOf(f)), f].join(" → "));
    state.set(f, 1);
    for (const d of graph.get(f) ?? []) if (graph.has(d)) walk(d, [...path, f]);
    state.set(f, 2);
  };
  for (const f of graph.keys()) walk(f, []);
  expect(circles).toEqual([]);
});

// Comments and docs cite only files that are in the repository (a path that moved is a dead pointer).
// Paths of other projects' trees (werift's lib/…/src/…, ord's docs/src/…, scure's test/vectors/…) and
// the build's own temporary file are named with their project and are not checked.
test("every repository path a source comment or a doc names exists", () => {
  const OTHERS = new Set([
    "docs/src/inscriptions/pointer.md",
    "docs/src/inscriptions/provenance.md",
    "docs/src/inscriptions/recursion.md",
    "test/vectors/bip341.json",
    "src/index.d.ts",
  ]);
  const listed = Bun.spawnSync(["git", "ls-files"], { cwd: ROOT }).stdout.toString().split("\n");
  expect(listed.length).toBeGreaterThan(100);
  const missing: string[] = [];
  for (const f of listed.filter((f) => /\.(ts|md|sh)$/.test(f) && f !== "bench/RESULTS.md")) {
    const text = readFileSync(join(ROOT, f), "utf8");
    for (const m of text.matchAll(
      /(?<![\w/.@-])((?:src|relay|protocol|test|bench|dev|inscribe|docs|examples|scripts)\/[\w./-]+\.(?:ts|md|json|sh|html|js))\b/g,
    ))
      if (!OTHERS.has(m[1]!) && !listed.includes(m[1]!) && !statSync(join(ROOT, m[1]!), { throwIfNoEntry: false }))
        missing.push(`${f}: ${m[1]}`);
  }
  expect(missing).toEqual([]);
});
