// dist/lumamesh.d.ts: one self-contained file with the public API only. The roll-up
// (scripts/rollup-dts.ts) on small inputs; the real build: no imports, no @internal member of src/,
// value exports equal to what the bundle really exports; README's failure reasons equal FailReason.
import { test, expect, describe, beforeAll } from "bun:test";
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildTypes, bundle } from "../build.ts";
import { rollupDts, statements, references } from "../scripts/rollup-dts.ts";

const ROOT = join(import.meta.dir, "..");
const dir = (files: Record<string, string>) => {
  const d = mkdtempSync(join(tmpdir(), "lumamesh-dts-unit-"));
  for (const [n, t] of Object.entries(files)) writeFileSync(join(d, n), t);
  return d;
};

describe("rollupDts", () => {
  test("keeps the entry's exports and what they reach; drops the rest; reached-only declarations lose `export`", () => {
    const d = dir({
      "index.d.ts":
        'import { type A } from "./a.ts";\nexport { B, type C } from "./a.ts";\n/** doc of f */\nexport declare function f(a: A): void;\n',
      "a.d.ts":
        [
          'import { type D } from "./d.ts";',
          "export interface A {\n    d: D;\n}",
          "export declare class B {\n    x: string;\n}",
          "/**\n * C is a union over\n * two lines { with braces }\n */\nexport type C = {\n    k: 1;\n} | {\n    k: 2;\n    a: A;\n};",
          "export declare const unused: number;",
          "export interface Unreached {\n    d: D;\n}",
        ].join("\n") + "\n",
      "d.d.ts": 'export type D = "x" | "y";\nexport declare function helper(): D;\n',
    });
    const out = rollupDts(d, "index.d.ts", "// header\n");
    expect(out).toStartWith("// header\n/** doc of f */\nexport declare function f(a: A): void;\n");
    expect(out).toContain("\ninterface A {\n    d: D;\n}");
    expect(out).toContain('\ntype D = "x" | "y";');
    expect(out).toContain("\nexport declare class B {");
    expect(out).toContain(" * two lines { with braces }\n */\nexport type C = {\n    k: 1;\n} | {\n    k: 2;\n    a: A;\n};");
    expect(out).not.toContain("unused");
    expect(out).not.toContain("Unreached");
    expect(out).not.toContain("helper");
    expect(out).not.toMatch(/^import|from "/m);
    expect(out).toEndWith("\nexport {};\n"); // so the unexported declarations stay private
  });

  test("throws rather than guess: renamed imports, two needed declarations with one name, statements it does not know", () => {
    expect(() => rollupDts(dir({ "index.d.ts": 'export { a as b } from "./a.ts";\n', "a.d.ts": "export declare const a: 1;\n" }))).toThrow(
      "renamed import/export not supported",
    );
    expect(() =>
      rollupDts(
        dir({
          "index.d.ts": 'import { type X } from "./a.ts";\nexport interface Y {\n    x: X;\n    z: Z;\n}\ninterface Z {\n}\n',
          "a.d.ts": 'import { type Z } from "./b.ts";\nexport interface X {\n    z: Z;\n}\n',
          "b.d.ts": "export interface Z {\n    n: number;\n}\n",
        }),
      ),
    ).toThrow("two declarations named Z");
    expect(() => rollupDts(dir({ "index.d.ts": 'export * from "./a.ts";\n' }))).toThrow("statement not understood");
  });

  test("statements split tsc's layout by column 0; references skip comments, strings and property accesses", () => {
    expect(statements("/** a */\nexport type A = {\n    x: 1;\n} & B;\n\n// c\nexport declare const c: T.X;\n")).toEqual([
      "/** a */\nexport type A = {\n    x: 1;\n} & B;",
      "// c\nexport declare const c: T.X;",
    ]);
    expect([...references('/** Mentions Foo */ type A = { k: "Bar"; v: Baz.Qux; w: typeof Quux<Z>; }')].sort()).toEqual([
      "A",
      "Baz",
      "Quux",
      "Z",
      "k",
      "v",
      "w",
    ]);
  });
});

describe("the built dist/lumamesh.d.ts", () => {
  let dts: string;
  let js: string;
  beforeAll(async () => {
    const out = mkdtempSync(join(tmpdir(), "lumamesh-dts-"));
    dts = buildTypes(out);
    expect(readdirSync(out)).toEqual(["lumamesh.d.ts"]);
    js = join(out, "lumamesh.js");
    writeFileSync(js, await bundle("src/index.ts"));
  }, 60000);

  test("is self-contained: no import, no re-export, no module path", () => {
    expect(dts).not.toMatch(/^\s*import\b|\bfrom\s+["']|import\(/m);
    expect(dts).toContain("export declare function connect(options?: ConnectOptions): Promise<Net>;");
  });

  test("carries no @internal member of src/ (each found by reading the sources)", () => {
    const internal: { name: string; owner: string }[] = [];
    for (const f of readdirSync(join(ROOT, "src")).filter((f) => f.endsWith(".ts"))) {
      const src = readFileSync(join(ROOT, "src", f), "utf8");
      for (const m of src.matchAll(/\/\*\*\s*@internal[\s\S]*?\*\/\s*\n\s*(\w+)\s*[?]?[:(]/g)) {
        const owner = [...src.slice(0, m.index).matchAll(/^export (?:interface|type) (\w+)/gm)].pop()?.[1] ?? "?";
        internal.push({ name: m[1], owner });
      }
    }
    expect(internal.length).toBeGreaterThanOrEqual(1); // Net.send today (rooms hear frames through RoomHost.rooms)
    for (const { name, owner } of internal) {
      // The owner's declaration in the .d.ts (if it ships at all) has no such member.
      const decl = new RegExp(`^(?:export )?(?:interface|type) ${owner}\\b[^\\n]*\\n([\\s\\S]*?)^}`, "m").exec(dts)?.[1] ?? "";
      expect({ owner, name, present: new RegExp(`^\\s+${name}\\??\\s*[:(]`, "m").test(decl) }).toEqual({ owner, name, present: false });
    }
    for (const word of ["Frame", "Link ", "createNet", "openLink", "BUILD"]) expect(dts).not.toContain(word);
  });

  test("declares exactly the values the bundle exports", async () => {
    const values = [...dts.matchAll(/^export declare (?:class|function|const|let|enum) (\w+)/gm)].map((m) => m[1]).sort();
    const mod = await import(js);
    expect(values).toEqual(Object.keys(mod).sort());
    expect(values).toContain("connect");
  });

  test("README documents exactly the FailReason values", () => {
    const union = /export type FailReason = ([^;]+);/.exec(dts)![1];
    const reasons = [...union.matchAll(/"([^"]+)"/g)].map((m) => m[1]).sort();
    expect(reasons.length).toBeGreaterThan(3);
    const readme = readFileSync(join(ROOT, "README.md"), "utf8");
    const lines = readme.slice(readme.search(/^\| `reason` +\| what happened +\|/m)).split("\n");
    const end = lines.findIndex((l) => !l.startsWith("|"));
    const rows = lines.slice(2, end).map((l) => /^\| `([^`]+)` +\|/.exec(l)?.[1] ?? l);
    expect(rows.sort()).toEqual(reasons);
  });
});
