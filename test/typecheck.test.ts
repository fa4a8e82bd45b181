// The whole project type-checks under the strict tsconfig (library, relay, inscribe, tests, bench).
import { test, expect } from "bun:test";
import { join } from "node:path";

test("tsc --noEmit -p . reports no errors", () => {
  const root = join(import.meta.dir, "..");
  const p = Bun.spawnSync([join(root, "node_modules/.bin/tsc"), "--noEmit", "-p", root], { stdout: "pipe", stderr: "pipe" });
  const out = p.stdout.toString() + p.stderr.toString();
  expect(out).toBe("");
  expect(p.exitCode).toBe(0);
}, 120000);
