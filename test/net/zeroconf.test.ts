// Relays that configure themselves, on a real network (test/net/netns.ts): six relay processes on
// public hosts and a seventh behind a NAT, none given --peer, --public-ip, --host or --port, only
// --ord naming the test's own ord server (dev/main.ts in the namespace "ord"), whose bootstrap sat
// names two of them: one by address and fingerprint, one by the sat its signed record is inscribed
// on. Every relay learns its public address from the relays it pings, is reached by another relay
// there (confirmed), and lists all the reachable relays; the one behind the NAT learns its
// address but is never confirmed nor listed. Two Chromium pages behind two NATs, given nothing but
// the ord server, learn every reachable relay and meet (on the bootstrap relays, which they rank
// first); then both bootstrap relays are killed and the same pages (same browser profile: relays
// cached in localStorage) connect again and meet again on relays they learned of by gossip. Fails (never skips) without root or Chromium.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Subprocess } from "bun";
import { launchIn, libraryRoutes, type NetBrowser } from "./browsers.ts";
import { createTestNet, type NetHost, type Served, type TestNet } from "./netns.ts";
import { watchOutput } from "./output.ts";
import { poll } from "../helpers/poll.ts";
import { SATS } from "../../protocol/network.ts";
import { readServing } from "../../relay/serving.ts";

const ROOT = join(import.meta.dir, "../..");
const MAIN = join(ROOT, "relay/main.ts");
/** Where the second bootstrap relay's signed record is inscribed (any free sat). */
const RECORD_SAT = 25483050765730;
/** How long the network may take to form: waited on as a condition, the time it took is printed. */
const JOIN_MS = 90_000;

type Rec = { addr: string; fp: string; id: string };
interface Relay {
  name: string;
  host: NetHost;
  dir: string;
  rec: Rec;
  proc?: Subprocess<"ignore", "pipe", "inherit">;
  lines: string[];
  boot: boolean;
  reachable: boolean;
}

/** `lumamesh-relay record` for a data dir (creates its keys): its id and fingerprint, and a signed record at `ip:4884`. */
async function record(dir: string, ip: string): Promise<Rec & { seq: number; sig: string }> {
  const p = Bun.spawn([process.execPath, MAIN, "record", "--data-dir", dir, "--public-ip", ip, "--port", "4884"], {
    stdout: "pipe",
    stderr: "pipe",
  });
  const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
  if (code !== 0) throw new Error(`record: exit ${code}`);
  return JSON.parse(out);
}

/** Page script: connect with nothing but the ord server; the relays it knows (once it knows `want` of
 *  them: the rest come by RECORDS after the link is up, or 30 s), where they came from. */
const CONNECT = (ord: string, want: number) => `(async () => {
  const g = globalThis;
  const { connect } = await import("/lumamesh.js");
  g.log = { peers: [], msgs: [] };
  g.net = await connect({ ord: [${JSON.stringify(ord)}] });
  for (let i = 0; i < 300 && g.net.relays.length < ${want}; i++) await new Promise((r) => setTimeout(r, 100));
  return { relay: g.net.relay.addr, relays: g.net.relays.map((r) => r.addr), sources: g.net.sources };
})()`;
/** Page script: join `room` (and wait until it is joined on two relays); returns the relays it lives on. */
const JOIN = (room: string, nick: string) => `(async () => {
  const g = globalThis;
  if (g.room) g.room.leave();
  g.log = { peers: [], msgs: [] };
  g.room = await g.net.joinRoom(${JSON.stringify(room)}, { nick: ${JSON.stringify(nick)} });
  g.room.on("peer", (p) => g.log.peers.push(p.nick));
  g.room.on("message", (d, p) => g.log.msgs.push([p.nick, d]));
  for (let i = 0; i < 100 && g.room.relays.length < 2; i++) await new Promise((r) => setTimeout(r, 100));
  return g.room.relays;
})()`;

describe("zero-config relays: they find each other, learn their addresses, and pages meet through them", () => {
  let net: TestNet;
  let ordHost: NetHost;
  let ordUrl: string;
  const relays: Relay[] = [];
  const browsers: NetBrowser[] = [];
  const sites: Served[] = [];
  let joinedMs = 0;

  const statusOf = (r: Relay) => {
    const s = readServing(r.dir);
    return s && !("problem" in s) ? s : null;
  };
  /** What a page reading each relay gets, read from inside the ord host's namespace. */
  const lists = async (of: Relay[]) =>
    JSON.parse(
      await ordHost.run([
        process.execPath,
        join(import.meta.dir, "records-proc.ts"),
        JSON.stringify(of.map((r) => ({ addr: r.rec.addr, fp: r.rec.fp }))),
      ]),
    ) as Record<string, { records?: Rec[]; error?: string }>;
  const logsOf = (r: Relay) =>
    r.lines
      .filter((l) => /gossip\.(address|confirmed|linked|reached|bootstrap-failed)|relay\.(address|discovered|confirmed)/.test(l))
      .slice(-12)
      .join("\n    ");

  beforeAll(async () => {
    net = await createTestNet();
    ordHost = await net.publicHost("ord");
    // Six relays on public addresses (two of them in the bootstrap config) and one behind a NAT.
    for (let i = 1; i <= 6; i++) {
      const host = await net.publicHost(`relay${i}`);
      const dir = mkdtempSync(join(tmpdir(), `lumamesh-zc${i}-`));
      relays.push({ name: `relay${i}`, host, dir, rec: await record(dir, host.ip), lines: [], boot: i <= 2, reachable: true });
    }
    const home = await net.natRouter("relayhome", "cone");
    const natHost = await home.host("relay7");
    const natDir = mkdtempSync(join(tmpdir(), "lumamesh-zc7-"));
    relays.push({
      name: "relay7",
      host: natHost,
      dir: natDir,
      rec: { ...(await record(natDir, home.ip)) },
      lines: [],
      boot: false,
      reachable: false,
    });
    // The bootstrap config, as inscribed on the bootstrap sat: relay1 by address and fingerprint,
    // relay2 by the sat holding its signed record (the record a `register` would inscribe).
    const [b1, b2] = relays;
    const b2rec = await record(b2!.dir, b2!.host.ip);
    const folder = mkdtempSync(join(tmpdir(), "lumamesh-zc-ord-"));
    mkdirSync(folder, { recursive: true });
    writeFileSync(
      join(folder, "bootstrap.json"),
      JSON.stringify({ lumamesh: 1, relays: [{ addr: b1!.rec.addr, fp: b1!.rec.fp }, { sat: RECORD_SAT }] }),
    );
    writeFileSync(join(folder, "relay2.json"), JSON.stringify(b2rec));
    writeFileSync(
      join(folder, "manifest.json"),
      JSON.stringify({
        version: 1,
        inscriptions: [
          { file: "bootstrap.json", sat: SATS.boot },
          { file: "relay2.json", sat: RECORD_SAT },
        ],
      }),
    );
    const ord = ordHost.spawn([process.execPath, join(ROOT, "dev/main.ts"), folder, "--host", ordHost.ip, "--port", "8080"], {
      stdout: "pipe",
      stderr: "pipe",
    });
    ordUrl = (await watchOutput(ord.stdout).match(/ord dev server on (http:\/\/\S+)/))[1]!;
    expect(ordUrl).toBe(`http://${ordHost.ip}:8080`);
  }, 60_000);
  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => {});
    for (const s of sites) s.stop();
    await net?.destroy();
  }, 30_000);

  test(
    `seven relays with no address, port or peer given: the six reachable ones all join (each lists all six, each is confirmed) within ${JOIN_MS / 1000} s; the one behind a NAT is never confirmed nor listed`,
    async () => {
      const t0 = Date.now();
      for (const r of relays) {
        // As install.sh runs it, plus --ord (the test's own ord server) and a data dir.
        r.proc = r.host.spawn([process.execPath, MAIN, "--ord", ordUrl, "--data-dir", r.dir, "--stats-interval", "2"], {
          stdout: "pipe",
          stderr: "inherit",
        });
        void (async () => {
          let buf = "";
          for await (const c of r.proc!.stdout) {
            buf += new TextDecoder().decode(c);
            const parts = buf.split("\n");
            buf = parts.pop()!;
            r.lines.push(...parts);
          }
        })();
      }
      const reachable = relays.filter((r) => r.reachable);
      const want = reachable.map((r) => r.rec.id).sort();
      let last: Record<string, { records?: Rec[]; error?: string }> = {};
      await poll(
        async () => {
          const st = relays.map(statusOf);
          if (!reachable.every((r, i) => st[i]?.learned?.confirmed && st[i]!.ip === r.host.ip && st[i]!.port === 4884)) return false;
          last = await lists(reachable);
          return reachable.every((r) => {
            const got = last[r.rec.addr]?.records;
            return (
              got &&
              got
                .map((x) => x.id)
                .sort()
                .join() === want.join() &&
              got.every((x) => x.addr === relays.find((y) => y.rec.id === x.id)!.rec.addr)
            );
          });
        },
        JOIN_MS,
        async () =>
          `not joined: ${JSON.stringify(relays.map((r) => ({ name: r.name, learned: statusOf(r)?.learned && { ...statusOf(r)!.learned, sources: undefined }, ip: statusOf(r)?.ip })))}\n  lists: ${JSON.stringify(last)}\n  logs:\n${relays.map((r) => `  ${r.name}:\n    ${logsOf(r)}`).join("\n")}`,
      );
      joinedMs = Date.now() - t0;
      console.log(
        `zero-config net: ${reachable.length} relays joined in ${(joinedMs / 1000).toFixed(1)} s (every one confirmed and listing all ${reachable.length})`,
      );

      for (const r of reachable) {
        const s = statusOf(r)!;
        // Learned from the relays it pinged, confirmed by one that reached it.
        expect(s.learned).toMatchObject({ source: "relays", confirmed: true });
        expect(s.learned!.reports.length).toBeGreaterThan(0);
        for (const rep of s.learned!.reports) expect(rep.addr).toBe(`${r.host.ip}:4884`);
        expect(s.learned!.sources[0]).toEqual({ source: `${ordUrl}/r/sat/${SATS.boot}`, relays: 2 });
        // The status subcommand says the same, for a person.
        const p = Bun.spawn([process.execPath, MAIN, "status", "--data-dir", r.dir], { stdout: "pipe", stderr: "pipe" });
        const text = await new Response(p.stdout).text();
        expect(await p.exited).toBe(0);
        expect(text).toContain(`address    ${r.host.ip}:4884  (seen by `);
        expect(text).toContain(`reached it at ${r.host.ip}:4884`);
        expect(text).toMatch(/\n  reachable  confirmed: \d+\.\d+\.\d+\.\d+:\d+(, \d+\.\d+\.\d+\.\d+:\d+)* reached it at /);
        expect(text).toContain(`${ordUrl}/r/sat/${SATS.boot}: 2 relays`);
      }
      // Behind the NAT: its address is the router's mapping, which no relay can dial in to.
      const nat = relays.find((r) => !r.reachable)!;
      const ns = statusOf(nat)!;
      expect(ns.ip).toBe(nat.rec.addr.split(":")[0]!);
      expect(ns.learned).toMatchObject({ source: "relays", confirmed: false });
      for (const l of Object.values(last)) expect(l.records!.some((x) => x.id === nat.rec.id)).toBe(false);
      const text = await new Response(
        Bun.spawn([process.execPath, MAIN, "status", "--data-dir", nat.dir], { stdout: "pipe" }).stdout,
      ).text();
      expect(text).toContain("reachable  unconfirmed: no relay has reached it at ");
      // Gossip stayed among relays; each relay logged what it learned.
      for (const r of reachable) {
        expect(r.lines.some((l) => l.includes('"event":"relay.address"'))).toBe(true);
        expect(r.lines.some((l) => l.includes('"event":"relay.confirmed"'))).toBe(true);
        expect(r.lines.some((l) => l.includes('"event":"relay.stats"') && l.includes('"confirmed":true'))).toBe(true);
      }
    },
    JOIN_MS + 30_000,
  );

  test("pages behind two NATs, given only the ord server, learn every relay and meet; with every bootstrap relay killed, the same pages connect from what they kept and meet on relays they learned of by gossip", async () => {
    expect(joinedMs).toBeGreaterThan(0);
    const boot = relays.filter((r) => r.boot).map((r) => r.rec.addr);
    const reachable = relays
      .filter((r) => r.reachable)
      .map((r) => r.rec.addr)
      .sort();
    const pages: { b: NetBrowser; url: string }[] = [];
    for (const [i, name] of ["alice", "bob"].entries()) {
      const home = await net.natRouter(`home${i}`, "cone");
      const host = await home.host(`page${i}`);
      const site = await host.serve(await libraryRoutes());
      sites.push(site);
      const b = await launchIn(host, "chromium");
      browsers.push(b);
      await b.goto(site.url + "/");
      const c = await b.evaluate<{ relay: string; relays: string[]; sources: { source: string; relays?: number }[] }>(
        CONNECT(ordUrl, reachable.length),
      );
      // Two relays from the bootstrap sat; the rest from the first relay's RECORDS (gossip).
      expect(c.sources[0]).toEqual({ source: `${ordUrl}/r/sat/${SATS.boot}`, relays: 2 });
      expect(boot).toContain(c.relay);
      expect([...c.relays].sort()).toEqual(reachable);
      pages.push({ b, url: site.url + "/" });
      void name;
    }
    const [a, b] = pages.map((p) => p.b) as [NetBrowser, NetBrowser];
    // A page ranks the relays traceable to its own sources (the bootstrap sat) above those it
    // learned by gossip (docs/protocol.md §6, trust tiers): while the bootstrap relays live, rooms
    // live on them; once they are gone, on the relays learned by gossip.
    const room = "zero-config";
    await a.evaluate(JOIN(room, "alice"));
    const meet = async (tag: string, where: string[]) => {
      const on = await b.evaluate<string[]>(JOIN(room, "bob"));
      expect(on.length).toBeGreaterThan(0);
      expect(on.filter((x) => !where.includes(x))).toEqual([]);
      for (const [p, other] of [
        [a, "bob"],
        [b, "alice"],
      ] as const)
        await poll(
          () => p.evaluate(`log.peers.includes(${JSON.stringify(other)})`),
          30_000,
          async () => `no ${other}: ${p.logs().join(" | ")}`,
        );
      await a.evaluate(`room.send(${JSON.stringify(tag)})`);
      await poll(
        () => b.evaluate(`log.msgs.some(([n, d]) => n == "alice" && d == ${JSON.stringify(tag)})`),
        15_000,
        async () => `bob got no ${tag}`,
      );
      return on;
    };
    const first = await meet("hello through the bootstrap relays", boot);

    // Every bootstrap relay dies. The pages come back (same profile: the relays they learned are in localStorage).
    for (const r of relays.filter((r) => r.boot)) r.proc!.kill("SIGKILL");
    await Promise.all(relays.filter((r) => r.boot).map((r) => r.proc!.exited));
    const t0 = Date.now();
    const learned = reachable.filter((x) => !boot.includes(x));
    for (const p of pages) {
      await p.b.goto(p.url);
      const c = await p.b.evaluate<{ relay: string; relays: string[]; sources: { source: string; relays?: number; reason?: string }[] }>(
        CONNECT(ordUrl, reachable.length),
      );
      // The relays it linked to (the bootstrap ones) come from its cache; those it learned, kept apart
      // (lumamesh.gossip), come back too: it links to one of them.
      expect(c.sources.find((s) => s.source === "cache")!.relays).toBeGreaterThan(0);
      expect([...c.relays].sort()).toEqual(reachable);
      expect(learned).toContain(c.relay);
    }
    await a.evaluate(JOIN(room, "alice"));
    const again = await meet("hello without bootstrap relays", learned);
    console.log(
      `zero-config net: pages met on ${first.join(", ")} (the bootstrap relays, ranked first); with both bootstrap relays killed they reconnected from their cache and met again on relays learned by gossip in ${((Date.now() - t0) / 1000).toFixed(1)} s, on ${again.join(", ")}`,
    );
  }, 240_000);
});
