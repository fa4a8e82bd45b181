#!/usr/bin/env bun
// `npm run fuzz -- [--cases N] [--seed S] [--json]`: structure-aware fuzzing of the relay's SCTP
// input path (test/helpers/sctp-gen.ts cases → relay/sctp-check.ts → werift's parser and
// association, as relay/werift.ts wires them). Millions of cases by default; a case that makes
// werift loop hangs this process, so callers run it with a deadline (test/relay/sctp-fuzz.test.ts).
// `npm run fuzz -- --dtls [--cases N] [--seed S] [--json]`: the relay's DTLS server handshake
// (relay/dtls-server.ts) fed mutated replays of recorded handshakes (test/helpers/dtls-fuzz.ts; its
// test: test/relay/dtls-fuzz.test.ts); prints outcomes, drops and failure reasons, and the first
// failing cases. Exits 1 on any violation.
import { checkSctpPacket } from "../relay/sctp-check.ts";
import { _internal } from "../relay/werift.ts";
import { fuzzDtls, recordAll } from "../test/helpers/dtls-fuzz.ts";
import { generate, rng, weriftWouldLoop } from "../test/helpers/sctp-gen.ts";

export interface FuzzResult {
  cases: number;
  seed: number;
  mutated: number;
  refused: number;
  weriftLoops: number;
  loopsPassed: number;
  cleanRefused: number;
  seconds: number;
}

export async function fuzzSctp(cases: number, seed: number, progress?: (done: number) => void): Promise<FuzzResult> {
  const r = rng(seed);
  let h = _internal.sctpHarness();
  const res: FuzzResult = { cases, seed, mutated: 0, refused: 0, weriftLoops: 0, loopsPassed: 0, cleanRefused: 0, seconds: 0 };
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    // A fresh association now and then: mutated packets may legitimately end one (ABORT, SHUTDOWN).
    if (i % 10000 === 0 && i) h.close(), (h = _internal.sctpHarness());
    const c = generate(r, h.tag, h.tsn, i % 10 === 0);
    const why = checkSctpPacket(c.packet);
    if (c.mutated) res.mutated++;
    else if (why) res.cleanRefused++;
    if (why) res.refused++;
    if (weriftWouldLoop(c.packet)) {
      res.weriftLoops++;
      if (!why) {
        res.loopsPassed++; // would hang below: report instead
        continue;
      }
    }
    await h.feed(c.packet);
    if (progress && i % 100000 === 0 && i) progress(i);
  }
  h.close();
  res.seconds = (performance.now() - t0) / 1000;
  return res;
}

/** The DTLS handshake fuzzer: records the handshakes, runs the cases, prints (or JSON). Exit code. */
async function dtlsMain(cases: number, seed: number, json: boolean): Promise<number> {
  if (!json) console.log(`fuzzing the DTLS server handshake: ${cases.toLocaleString("en-US")} cases, seed ${seed}`);
  const recs = await recordAll();
  const res = fuzzDtls(recs, cases, seed, json ? undefined : (n) => n % 20000 === 0 && console.log(`  ${n.toLocaleString("en-US")} cases`));
  if (json) {
    console.log(JSON.stringify(res));
    return res.violations ? 1 : 0;
  }
  const table = (title: string, o: Record<string, number>) => {
    console.log(`\n${title}`);
    for (const [k, v] of Object.entries(o).sort((a, b) => b[1] - a[1])) console.log(`  ${k.padEnd(64)} ${v.toLocaleString("en-US")}`);
  };
  table("outcomes", res.results);
  for (const [e, o] of Object.entries(res.byExpect))
    table(`outcomes of cases that must ${e === "complete" ? "complete" : e === "never" ? "never complete" : "hold the oracle only"}`, o);
  table("ops applied", res.ops);
  table("input dropped, by reason", res.drops);
  table("handshakes failed, by reason", res.fails);
  const rows: [string, number | string][] = [
    ["cases", res.cases],
    ["violations (must be 0)", res.violations],
    ["most disjoint ranges held for a message", res.maxRanges],
    ["slowest case (ms)", res.maxCaseMs.toFixed(1)],
    ["seconds", res.seconds.toFixed(1)],
    ["cases per second", Math.round(res.cases / res.seconds)],
  ];
  console.log("");
  for (const [k, v] of rows) console.log(`${k.padEnd(48)} ${typeof v === "number" ? v.toLocaleString("en-US") : v}`);
  for (const f of res.failures) console.log(`\n${f}`);
  return res.violations ? 1 : 0;
}

if (import.meta.main) {
  const arg = (name: string, def: number) => {
    const i = process.argv.indexOf(name);
    return i > 0 ? Number(process.argv[i + 1]) : def;
  };
  if (process.argv.includes("--help")) {
    console.log("usage: npm run fuzz -- [--cases N (default 2000000)] [--seed S (default: random)] [--json]");
    console.log("       npm run fuzz -- --dtls [--cases N (default 100000)] [--seed S (default: random)] [--json]");
    process.exit(0);
  }
  if (process.argv.includes("--dtls"))
    process.exit(await dtlsMain(arg("--cases", 100_000), arg("--seed", (Math.random() * 2 ** 32) >>> 0), process.argv.includes("--json")));
  const cases = arg("--cases", 2_000_000),
    seed = arg("--seed", (Math.random() * 2 ** 32) >>> 0);
  const json = process.argv.includes("--json");
  if (!json) console.log(`fuzzing the SCTP input path: ${cases.toLocaleString("en-US")} cases, seed ${seed}`);
  const res = await fuzzSctp(cases, seed, json ? undefined : (n) => console.log(`  ${n.toLocaleString("en-US")} cases`));
  if (json) console.log(JSON.stringify(res));
  else {
    const rows = [
      ["cases", res.cases],
      ["mutated", res.mutated],
      ["refused by the shape check", res.refused],
      ["of which werift would loop on", res.weriftLoops],
      ["loop cases that passed the check (must be 0)", res.loopsPassed],
      ["unmutated cases refused (must be 0)", res.cleanRefused],
      ["seconds", res.seconds.toFixed(1)],
      ["cases per second", Math.round(res.cases / res.seconds)],
    ];
    for (const [k, v] of rows) console.log(`${String(k).padEnd(48)} ${typeof v === "number" ? v.toLocaleString("en-US") : v}`);
  }
  process.exit(res.loopsPassed || res.cleanRefused ? 1 : 0);
}
