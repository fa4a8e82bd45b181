#!/usr/bin/env bun
// The test entry behind `npm test`: makes sure real browsers (Chromium, Firefox ESR) and the
// network-namespace tools are there (those tests never skip), runs every test with `bun test`,
// and ends with one plain line "N passed, N failed".
import { existsSync } from "node:fs";
import { chromiumPath } from "./helpers/browser.ts";
import { firefoxPath } from "./net/firefox.ts";

/** What the tests need from Debian: the package, and whether it is already there. */
const needs = [
  { pkg: "chromium", what: "Chromium", present: () => existsSync(chromiumPath()), hint: "or set CHROMIUM_PATH to a Chromium binary" },
  { pkg: "firefox-esr", what: "Firefox ESR", present: () => existsSync(firefoxPath()), hint: "or set FIREFOX_PATH to a Firefox binary" },
  { pkg: "nftables", what: "nft (NAT in test namespaces)", present: () => !!Bun.which("nft"), hint: "" },
  { pkg: "iproute2", what: "ip (test namespaces)", present: () => !!Bun.which("ip"), hint: "" },
];

function ensurePackages(): boolean {
  const missing = needs.filter((n) => !n.present());
  if (!missing.length) return true;
  const cmd = `apt-get update && apt-get install -y ${missing.map((n) => n.pkg).join(" ")}`;
  const root = process.getuid?.() === 0;
  if (root && existsSync("/usr/bin/apt-get")) {
    console.log(`test: missing ${missing.map((n) => n.what).join(", ")}; installing from Debian (${cmd})`);
    const p = Bun.spawnSync(["sh", "-c", cmd], {
      stdout: "inherit",
      stderr: "inherit",
      env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
    });
    if (p.exitCode === 0 && missing.every((n) => n.present())) return true;
  }
  for (const n of missing.filter((n) => !n.present()))
    console.error(`test: ${n.what} is needed by the tests and is missing.${n.hint ? ` (${n.hint})` : ""}`);
  console.error(`  Run as root: ${cmd}`);
  return false;
}

if (!ensurePackages()) {
  console.log("0 passed, 1 failed");
  process.exit(1);
}

const args = process.argv.slice(2);
const p = Bun.spawn([process.execPath, "test", "--timeout", "60000", ...(args.length ? args : ["test/"])], {
  stdout: "inherit",
  stderr: "pipe",
  env: process.env,
});
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
if (code !== 0 && fail === 0) fail = 1;
// Bun reports a failure's error beside the test, far above the summary: repeat each failed test's
// report (the lines since the previous test's result) at the end, where a CI log's tail shows it.
if (fail) {
  const lines = err.split("\n");
  const shown = new Set<string>();
  let from = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i]!;
    if (/^\((pass|skip|todo)\)|^test\/.*:$/.test(l)) from = i + 1;
    else if (/^\(fail\)/.test(l)) {
      if (!shown.has(l)) {
        shown.add(l);
        console.log(
          `\n--- ${l}\n${lines
            .slice(Math.max(from, i - 60), i)
            .join("\n")
            .slice(-6000)}`,
        );
      }
      from = i + 1;
    }
  }
}
console.log(`${pass} passed, ${fail} failed`);
process.exit(fail ? 1 : 0);
