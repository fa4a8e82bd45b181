#!/usr/bin/env bun
// The test entry behind `npm test`: makes sure a real Chromium is there (browser tests never
// skip), runs every test with `bun test`, and ends with one plain line "N passed, N failed".
import { existsSync } from "node:fs";
import { chromiumPath } from "./helpers/browser.ts";

function ensureChromium(): boolean {
  if (existsSync(chromiumPath())) return true;
  const cmd = "apt-get update && apt-get install -y chromium";
  const root = process.getuid?.() === 0;
  if (root && existsSync("/usr/bin/apt-get")) {
    console.log(`test: Chromium is missing; installing Debian's chromium (${cmd})`);
    const p = Bun.spawnSync(["sh", "-c", cmd], { stdout: "inherit", stderr: "inherit", env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" } });
    if (p.exitCode == 0 && existsSync(chromiumPath())) return true;
  }
  console.error(`test: Chromium is needed for the browser tests and is not at ${chromiumPath()}.\n  Run as root: ${cmd}\n  (or set CHROMIUM_PATH to a Chromium binary)`);
  return false;
}

if (!ensureChromium()) {
  console.log("0 passed, 1 failed");
  process.exit(1);
}

const args = process.argv.slice(2);
const p = Bun.spawn([process.execPath, "test", ...(args.length ? args : ["test/"])], { stdout: "inherit", stderr: "pipe", env: process.env });
let err = "";
const dec = new TextDecoder();
for await (const chunk of p.stderr) {
  const s = dec.decode(chunk, { stream: true });
  err += s;
  process.stderr.write(s);
}
const code = await p.exited;
const pass = Number(/^\s*(\d+) pass$/m.exec(err)?.[1] ?? 0);
let fail = Number(/^\s*(\d+) fail$/m.exec(err)?.[1] ?? 0);
// A crash between tests (or no summary at all) is a failure even if no test said so.
if (code != 0 && fail == 0) fail = 1;
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
