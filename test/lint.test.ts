// The repository's formatter and lint config (biome.json: 2 spaces, double quotes, lines up to 140,
// eqeqeq) hold everywhere: `biome ci` fails on any file that differs from its formatted form or
// compares with == / != (== null and != null stay allowed). `npm run format` fixes both.
import { expect, test } from "bun:test";
import { join } from "node:path";

const ROOT = join(import.meta.dir, "..");

test("biome ci: every file formatted, no == or != (eqeqeq)", () => {
  const bin = join(ROOT, "node_modules/.bin/biome");
  const r = Bun.spawnSync([bin, "ci", ".", "--colors=off", "--max-diagnostics=20"], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
  const out = r.stdout.toString() + r.stderr.toString();
  if (r.exitCode !== 0) console.error(out);
  expect(out).toMatch(/Checked \d+ files/); // it ran over the tree, not over nothing
  expect(r.exitCode).toBe(0);
}, 60000);
