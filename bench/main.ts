#!/usr/bin/env bun
// `bun run bench [--update] [section…]`: Lumamesh side by side with other libraries on the same
// machine in the same run. Prints one table and writes it, with the machine and versions, to
// bench/RESULTS.md when every section ran (blocks written by --update for sections outside the
// run are kept). With --update, only the sections named are run and each one's block in
// RESULTS.md (its own heading, machine and table: bench/results.ts) is replaced or appended,
// leaving everything else as it was. Not a test: nothing here asserts. Every section is bounded
// in count and time and uses loopback only, but nat, which uses network namespaces it makes (root).
import { existsSync, readFileSync, writeFileSync } from "node:fs";
import { loadavg } from "node:os";
import { join } from "node:path";
import { benchSize } from "./size.ts";
import { replaceBlock, sectionBlock, withKeptBlocks } from "./results.ts";
import { libVersion, machine, table, type Row } from "./util.ts";

const SECTIONS: Record<string, () => Promise<Row[]>> = {
  size: () => benchSize(),
  join: async () => (await import("./join.ts")).benchJoin(),
  throughput: async () => (await import("./join.ts")).benchThroughput(),
  capacity: async () => (await import("./capacity.ts")).benchCapacity(),
  layer1: async () => (await import("./layer1.ts")).benchLayer1(),
  failover: async () => (await import("./failover.ts")).benchFailover(),
  nat: async () => (await import("./nat.ts")).benchNat(),
  dead: async () => (await import("./dead.ts")).benchDead(),
  attack: async () => (await import("./attack.ts")).benchAttack(),
  gossip: async () => (await import("./gossip.ts")).benchGossip(),
};
const DEFAULT = ["size", "join", "throughput", "capacity", "layer1", "failover", "nat", "attack", "dead", "gossip"];

const argv = process.argv.slice(2);
const update = argv.includes("--update");
const asked = argv.filter((a) => a !== "--update");
for (const a of asked) if (!SECTIONS[a]) throw new Error(`bench: unknown section "${a}" (have: ${Object.keys(SECTIONS).join(", ")})`);
if (update && !asked.length) throw new Error("bench: --update needs the sections to run and update (e.g. --update attack)");
const run = asked.length ? asked : DEFAULT;
const m = machine();
console.log(
  Object.entries(m)
    .map(([k, v]) => `${k}: ${v}`)
    .join("\n"),
);
const rows: Row[] = [];
const bySection = new Map<string, { rows: Row[]; seconds: number; load: [number[], number[]] }>();
for (const name of run) {
  const t0 = performance.now(),
    l0 = loadavg();
  let r: Row[];
  try {
    r = await SECTIONS[name]();
    console.log(`\n${name} (${((performance.now() - t0) / 1000).toFixed(0)} s)\n` + table(r));
  } catch (e) {
    console.error(`bench ${name} failed:`, e);
    r = [{ section: name, metric: "n/a", library: "", value: `n/a (${String(e).split("\n")[0].slice(0, 120)})`, ratio: "" }];
  }
  rows.push(...r);
  bySection.set(name, { rows: r, seconds: (performance.now() - t0) / 1000, load: [l0, loadavg()] });
}
const out = table(rows);
console.log("\n" + out);
const RESULTS = join(import.meta.dir, "RESULTS.md");
if (update) {
  let md = existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "# Benchmark results\n";
  for (const [name, s] of bySection) {
    const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(" ");
    const facts = [
      `Written by \`bun run bench -- --update ${name}\` (bench/main.ts), on its own, after the table above; see the Benchmarks paragraph in README.md.`,
      "",
      ...Object.entries(m).map(([k, v]) => `- ${k}: ${v}`),
      `- libraries: ${libVersion("lumamesh")}, ${["playwright-core", "werift"].map(libVersion).join(", ")}`,
      `- section time: ${s.seconds.toFixed(0)} s; load average (1/5/15 min): ${la(s.load[0])} before, ${la(s.load[1])} after`,
    ];
    md = replaceBlock(md, name, sectionBlock(name, facts, table(s.rows)));
  }
  writeFileSync(RESULTS, md);
  console.log(`\nupdated bench/RESULTS.md: ${[...bySection.keys()].join(", ")}`);
} else if (!asked.length || asked.join() === DEFAULT.join()) {
  const libs = [
    "esbuild",
    "@trystero-p2p/torrent",
    "@trystero-p2p/nostr",
    "peerjs",
    "simple-peer",
    "p2pcf",
    "bittorrent-tracker",
    "playwright-core",
    "werift",
  ].map(libVersion);
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
  writeFileSync(RESULTS, withKeptBlocks(md, existsSync(RESULTS) ? readFileSync(RESULTS, "utf8") : "", run));
  console.log("\nwrote bench/RESULTS.md");
}
process.exit(0);
