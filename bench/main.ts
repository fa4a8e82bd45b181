#!/usr/bin/env bun
// `bun run bench [section…]`: Lumamesh side by side with other libraries on the same machine in
// the same run. Prints one table and writes it, with the machine and versions, to bench/RESULTS.md
// (only when every section ran). Not a test: nothing here asserts. Every section is bounded in
// count and time and uses loopback only, but nat, which uses network namespaces it makes (root).
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { benchSize } from "./size.ts";
import { libVersion, machine, table, type Row } from "./util.ts";

const SECTIONS: Record<string, () => Promise<Row[]>> = {
  size: () => benchSize(),
  join: async () => (await import("./join.ts")).benchJoin(),
  throughput: async () => (await import("./join.ts")).benchThroughput(),
  capacity: async () => (await import("./capacity.ts")).benchCapacity(),
  layer1: async () => (await import("./layer1.ts")).benchLayer1(),
  failover: async () => (await import("./failover.ts")).benchFailover(),
  nat: async () => (await import("./nat.ts")).benchNat(),
};
const DEFAULT = ["size", "join", "throughput", "capacity", "layer1", "failover", "nat"];

const asked = process.argv.slice(2);
for (const a of asked) if (!SECTIONS[a]) throw new Error(`bench: unknown section "${a}" (have: ${Object.keys(SECTIONS).join(", ")})`);
const run = asked.length ? asked : DEFAULT;
const m = machine();
console.log(Object.entries(m).map(([k, v]) => `${k}: ${v}`).join("\n"));
const rows: Row[] = [];
for (const name of run) {
  const t0 = performance.now();
  try {
    const r = await SECTIONS[name]();
    rows.push(...r);
    console.log(`\n${name} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n` + table(r));
  } catch (e) {
    console.error(`bench ${name} failed:`, e);
    rows.push({ section: name, metric: "n/a", library: "", value: `n/a (${String(e).split("\n")[0].slice(0, 120)})`, ratio: "" });
  }
}
const out = table(rows);
console.log("\n" + out);
if (!asked.length || asked.join() == DEFAULT.join()) {
  const libs = ["esbuild", "@trystero-p2p/torrent", "@trystero-p2p/nostr", "peerjs", "simple-peer", "p2pcf", "bittorrent-tracker", "playwright-core", "werift"].map(libVersion);
  const md = [
    "# Benchmark results",
    "",
    "Written by `bun run bench` (bench/main.ts); see the Benchmarks paragraph in README.md for what each section measures.",
    "",
    ...Object.entries(m).map(([k, v]) => `- ${k}: ${v}`),
    `- libraries: ${libVersion("lumamesh")}, ${libs.join(", ")}`,
    "",
    out,
    "",
  ].join("\n");
  writeFileSync(join(import.meta.dir, "RESULTS.md"), md);
  console.log("\nwrote bench/RESULTS.md");
}
process.exit(0);
