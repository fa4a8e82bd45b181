// build.ts: the library is one file with no imports, within its byte budget (printed), with types;
// the fallback is its own module; the compiled-in config lands in the bundle.
import { test, expect } from "bun:test";
import { mkdtempSync, readFileSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { buildLibrary, measure, table, DEFAULT_BUILD, bundle, assertNoImports, libraryDefine, LIBRARY_BUDGET_BROTLI } from "../build.ts";

/** Every byte is paid for on-chain: the library's brotli budget (build.ts says why it is what it is). */
const BUDGET_BROTLI = LIBRARY_BUDGET_BROTLI;

test("dist/lumamesh.js stays within its brotli budget (sizes printed)", async () => {
  const out = mkdtempSync(join(tmpdir(), "lumamesh-build-"));
  const files = await buildLibrary(out);
  const rows = Object.entries(files).map(([n, b]) => [n, measure(b)] as [string, ReturnType<typeof measure>]);
  console.log(table(rows));
  const core = measure(files["lumamesh.js"]);
  expect(core.brotli).toBeLessThanOrEqual(BUDGET_BROTLI);
  expect(core.raw).toBeGreaterThan(5000); // a real build, not an empty file
  // The lazy fallback is a separate module, not inlined into the core.
  const text = new TextDecoder().decode(files["lumamesh.js"]);
  expect(text).not.toContain("pbkdf2Async");
  expect(new TextDecoder().decode(files["lumamesh-fallback.js"])).toContain("nobleCrypto");
  // Types ship beside it, in one file (test/dts.test.ts checks what is in it).
  expect(readFileSync(join(out, "lumamesh.d.ts"), "utf8")).toContain(
    "export declare function connect(options?: ConnectOptions): Promise<Net>;",
  );
  expect(existsSync(join(out, "types"))).toBe(false);
}, 60000);

test("the bundle is a single ES module that imports nothing, and carries the compiled-in config", async () => {
  const cfg = { ...DEFAULT_BUILD, bootSat: 123456789, relays: [{ addr: "192.0.2.7:4884", fp: "AB:".repeat(31) + "AB" }] };
  const js = new TextDecoder().decode(await bundle("src/index.ts", libraryDefine(cfg)));
  expect(js).toContain("123456789");
  // Only the compiled-in config: the source defaults (for imports of src/ without a build) are gone.
  expect(js).not.toContain(String(DEFAULT_BUILD.bootSat));
  expect(js).toContain("192.0.2.7:4884");
  expect(js).toMatch(/export\s*\{/);
  expect(js).not.toMatch(/(^|[;}\n])\s*import\s*[\w{*"']/);
});

test("the no-imports check catches imports and lets WebCrypto's importKey and computed import() through", () => {
  for (const bad of [
    'import{a as b}from"./x.js";b()',
    'let a=1;import"./side.js"',
    'const f=()=>import("./x.js")',
    "export*from'./y.js'",
    'export{a}from"./z.js"',
  ])
    expect(() => assertNoImports(bad, "t")).toThrow("build: t still imports something at run time");
  for (const ok of ['crypto.subtle.importKey("raw",k)', "const m=await import(u.href)", "export{a as connect};"]) assertNoImports(ok, "t");
});
