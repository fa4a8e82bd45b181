// The library across a real network: relays on a public test segment, browsers (Chromium and Firefox
// ESR) in their own namespaces, some behind NAT routers (test/net/netns.ts). Shows Layer 1 and rooms
// off loopback, a Chromium–Firefox room, a direct path through two cone NATs (server-reflexive
// candidates learned from the relay as STUN server) that outlives the relay, and two symmetric NATs
// that still talk, relayed and sealed, and move to a direct path once an ICE restart gets through.
// Fails (never skips) without root, Chromium or Firefox.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchIn, libraryRoutes, type BrowserKind, type NetBrowser } from "./browsers.ts";
import { createTestNet, type NatKind, type NetHost, type TestNet } from "./netns.ts";
import { natRuleset } from "./nat.ts";
import { poll } from "../helpers/poll.ts";
import { startRelayProc, type RelayProc } from "../helpers/relay.ts";

type Rec = { addr: string; fp: string };

/** Page script: connect to `rec`, join `room`, log room events; mesh RTCPeerConnections are kept in `pcs`. */
const JOIN = (rec: Rec, room: string, nick: string) => `(async () => {
  const g = globalThis;
  const { connect } = await import("/lumamesh.js");
  g.pcs = [];
  class Kept extends RTCPeerConnection {
    constructor(c) { super(c); if (c && c.iceServers) g.pcs.push(this); }
  }
  g.net = await connect({ relays: [${JSON.stringify(rec)}], RTCPeerConnection: Kept });
  g.log = { peers: [], paths: [], msgs: [], errors: [] };
  g.room = await g.net.joinRoom(${JSON.stringify(room)}, { nick: ${JSON.stringify(nick)} });
  g.t0 = performance.now();
  g.room.on("peer", (p) => {
    g.log.peers.push({ id: p.id, nick: p.nick, path: p.path, at: performance.now() - g.t0 });
    p.on("path", (x) => g.log.paths.push(x));
  });
  g.room.on("message", (d, p) => g.log.msgs.push({ from: p.nick, path: p.path, d }));
  g.room.on("error", (e) => g.log.errors.push(e.code + ": " + e.message));
  return g.net.relay.addr;
})()`;

/** Page script: the selected candidate pair of the first mesh connection, and every local srflx candidate. */
const ICE = `(async () => {
  const out = { pair: null, srflx: [], state: [] };
  for (const pc of globalThis.pcs) {
    out.state.push(pc.iceConnectionState);
    const st = await pc.getStats();
    let pair = null;
    st.forEach((r) => { if (r.type == "transport" && r.selectedCandidatePairId) pair = st.get(r.selectedCandidatePairId); });
    if (!pair) st.forEach((r) => { if (r.type == "candidate-pair" && r.nominated && r.state == "succeeded") pair = r; });
    const c = (id) => { const x = st.get(id); return x && { type: x.candidateType, address: x.address ?? x.ip, port: x.port, url: x.url }; };
    if (pair && !out.pair) out.pair = { local: c(pair.localCandidateId), remote: c(pair.remoteCandidateId) };
    st.forEach((r) => { if (r.type == "local-candidate" && r.candidateType == "srflx") out.srflx.push({ address: r.address ?? r.ip, url: r.url }); });
  }
  return out;
})()`;

const until = (b: NetBrowser, cond: string, ms: number, what: string) =>
  poll(
    () => b.evaluate(cond),
    ms,
    async () => `${b.kind}: no ${what}; log: ${JSON.stringify(await b.evaluate("globalThis.log"))}; console: ${b.logs().join(" | ")}`,
  );

describe("lumamesh across namespaced hosts and NATs", () => {
  let net: TestNet;
  const browsers: NetBrowser[] = [];
  const relays: RelayProc[] = [];
  let relayHost: NetHost;

  beforeAll(async () => {
    net = await createTestNet();
    relayHost = await net.publicHost("relay");
  }, 15_000);
  afterAll(async () => {
    for (const b of browsers) await b.close().catch(() => {});
    for (const r of relays) await r.stop().catch(() => 0);
    await net?.destroy();
  }, 30_000);

  /** A fresh relay on the public segment, and the {addr, fp} pages are given. */
  const relayOn = async (host: NetHost, args: string[] = []) => {
    const relay = await startRelayProc({ netns: host.ns, host: host.ip, args });
    relays.push(relay);
    return { relay, rec: { addr: relay.record.addr, fp: relay.record.fp } };
  };
  /** A browser of `kind` on `host`, its page loaded from inside the host's namespace and joined to `room`. */
  const pageOn = async (host: NetHost, kind: BrowserKind, rec: Rec, room: string, nick: string) => {
    const site = await host.serve(await libraryRoutes());
    const b = await launchIn(host, kind);
    browsers.push(b);
    await b.goto(site.url + "/");
    expect(await b.evaluate<string>(JOIN(rec, room, nick))).toBe(rec.addr);
    return b;
  };
  const pair = async (nat: NatKind, rec: Rec, room: string, tag: string, kinds: [BrowserKind, BrowserKind] = ["chromium", "chromium"]) => {
    const r1 = await net.natRouter(`${tag}1`, nat),
      r2 = await net.natRouter(`${tag}2`, nat);
    const ha = await r1.host(`${tag}a`),
      hb = await r2.host(`${tag}b`);
    const a = await pageOn(ha, kinds[0], rec, room, "alice");
    const b = await pageOn(hb, kinds[1], rec, room, "bob");
    await Promise.all([until(a, "log.peers.length >= 1", 20_000, "peer"), until(b, "log.peers.length >= 1", 20_000, "peer")]);
    return { a, b, r1, r2, ha, hb };
  };
  const exchange = async (a: NetBrowser, b: NetBrowser, tag: string) => {
    await a.evaluate(`room.send({ from: "alice", tag: ${JSON.stringify(tag)} })`);
    await b.evaluate(`room.send("bob says ${tag}")`);
    await until(b, `log.msgs.some((m) => m.d && m.d.tag == ${JSON.stringify(tag)})`, 10_000, `message ${tag} from alice`);
    await until(a, `log.msgs.some((m) => m.d == "bob says ${tag}")`, 10_000, `message ${tag} from bob`);
  };

  test("Chromium and Firefox each reach a relay on a non-loopback address, and meet in one room", async () => {
    const { relay, rec } = await relayOn(relayHost);
    expect(relay.record.addr).toStartWith(relayHost.ip + ":");
    const cr = await pageOn(await net.publicHost("cr"), "chromium", rec, "two-engines", "alice");
    const ff = await pageOn(await net.publicHost("ff"), "firefox", rec, "two-engines", "bob");
    for (const b of [cr, ff]) expect(await b.evaluate<number>("net.ping()")).toBeGreaterThan(0);
    await Promise.all([until(cr, "log.peers.length >= 1", 15_000, "peer"), until(ff, "log.peers.length >= 1", 15_000, "peer")]);
    expect(await cr.evaluate("log.peers.map((p) => [p.nick, p.path])")).toEqual([["bob", "direct"]]);
    expect(await ff.evaluate("log.peers.map((p) => [p.nick, p.path])")).toEqual([["alice", "direct"]]);
    await exchange(cr, ff, "engines");
    await cr.evaluate(`room.send(Uint8Array.from({ length: 300000 }, (_, i) => i & 255))`);
    await until(
      ff,
      `log.msgs.some((m) => m.d instanceof Uint8Array && m.d.length == 300000 && m.d.every((x, i) => x == (i & 255)))`,
      10_000,
      "300 kB from Chromium",
    );
    // The direct path runs between the two hosts' own addresses.
    const ice = await ff.evaluate<any>(ICE);
    expect(ice.pair.remote.address).toBe((await cr.evaluate<any>(ICE)).pair.local.address);
    for (const b of [cr, ff]) expect(await b.evaluate("log.errors")).toEqual([]);
    for (const b of browsers.splice(0)) await b.close();
  }, 90_000);

  test("behind two different cone NATs: a direct path over server-reflexive candidates from the relay, which then dies without breaking it", async () => {
    const { relay, rec } = await relayOn(relayHost);
    const { a, b, r1, r2, ha } = await pair("cone", rec, "cone-room", "cone");
    for (const p of [a, b]) expect(await p.evaluate("room.peers.map((p) => p.path)")).toEqual(["direct"]);
    const [ia, ib] = [await a.evaluate<any>(ICE), await b.evaluate<any>(ICE)];
    // Each page learned its NAT's public address from the relay (its only STUN server)...
    expect(ia.srflx).toContainEqual({ address: r1.ip, url: `stun:${rec.addr}` });
    expect(ib.srflx).toContainEqual({ address: r2.ip, url: `stun:${rec.addr}` });
    // ...and the selected pair is server-reflexive: from that learned address (the relay's STUN
    // answer) to the other NAT's public address.
    expect(ia.pair.local).toMatchObject({ type: "srflx", address: r1.ip, url: `stun:${rec.addr}` });
    expect(ib.pair.local).toMatchObject({ type: "srflx", address: r2.ip, url: `stun:${rec.addr}` });
    expect(ia.pair.remote.address).toBe(r2.ip);
    expect(ib.pair.remote.address).toBe(r1.ip);
    expect(ha.ip).toStartWith("192.168.");
    // Server-reflexive on at least one side (a check may arrive before its candidate: peer-reflexive there).
    expect([ia.pair.remote.type, ib.pair.remote.type]).toContain("srflx");
    for (const t of [ia.pair.remote.type, ib.pair.remote.type]) expect(["srflx", "prflx"]).toContain(t);
    await exchange(a, b, "through-cones");
    relay.proc.kill("SIGKILL");
    await relay.proc.exited;
    for (const p of [a, b]) await until(p, "net.relay === null", 10_000, "the relay's death noticed");
    await exchange(a, b, "after-relay-death");
    for (const p of [a, b]) expect(await p.evaluate("room.peers.map((p) => p.path)")).toEqual(["direct"]);
    for (const b of browsers.splice(0)) await b.close();
  }, 90_000);

  test("a direct path that breaks moves to the relay (path event), and back to direct when an ICE restart gets through again", async () => {
    const { relay, rec } = await relayOn(relayHost);
    const { a, b, r1, r2 } = await pair("cone", rec, "cut-room", "cut");
    for (const p of [a, b]) expect(await p.evaluate("room.peers.map((p) => p.path)")).toEqual(["direct"]);
    // Router 1 drops everything between the two homes (the relay stays reachable).
    await r1.run(["nft", "-f", "-"], {
      stdin: `table ip cut {\n  chain f {\n    type filter hook forward priority -10; policy accept;\n    ip daddr ${r2.ip} drop\n    ip saddr ${r2.ip} drop\n  }\n}\n`,
    });
    for (const p of [a, b]) await until(p, `log.paths.includes("relayed")`, 20_000, "fallback to the relay");
    await exchange(a, b, "while-cut");
    expect(await b.evaluate(`log.msgs.find((m) => m.d && m.d.tag == "while-cut").path`)).toBe("relayed");
    await r1.run(["nft", "delete", "table", "ip", "cut"]);
    for (const p of [a, b])
      await until(p, `log.paths.lastIndexOf("direct") > log.paths.indexOf("relayed")`, 30_000, "return to the direct path");
    for (const p of [a, b]) expect(await p.evaluate("room.peers.map((p) => p.path)")).toEqual(["direct"]);
    await exchange(a, b, "mended");
    expect(await b.evaluate(`log.msgs.find((m) => m.d && m.d.tag == "mended").path`)).toBe("direct");
    for (const p of [a, b]) expect(await p.evaluate("log.errors")).toEqual([]);
    for (const b of browsers.splice(0)) await b.close();
  }, 120_000);

  test("Firefox behind a port-restricted cone NAT, Chromium behind a symmetric one: no direct path either way, relayed across engines", async () => {
    const { relay, rec } = await relayOn(relayHost);
    const rf = await net.natRouter("mixf", "cone"),
      rc = await net.natRouter("mixc", "symmetric");
    const ff = await pageOn(await rf.host("mixfa"), "firefox", rec, "mixed-nat-room", "alice");
    const cr = await pageOn(await rc.host("mixcb"), "chromium", rec, "mixed-nat-room", "bob");
    await Promise.all([until(ff, "log.peers.length >= 1", 20_000, "peer"), until(cr, "log.peers.length >= 1", 20_000, "peer")]);
    expect(await ff.evaluate("room.peers.map((p) => [p.nick, p.path])")).toEqual([["bob", "relayed"]]);
    expect(await cr.evaluate("room.peers.map((p) => [p.nick, p.path])")).toEqual([["alice", "relayed"]]);
    await exchange(ff, cr, "mixed");
    await cr.evaluate(`room.send(Uint8Array.from({ length: 40000 }, (_, i) => (i * 5) & 255))`);
    await until(
      ff,
      `log.msgs.some((m) => m.d instanceof Uint8Array && m.d.length == 40000 && m.d.every((x, i) => x == ((i * 5) & 255)))`,
      15_000,
      "40 kB relayed to Firefox",
    );
    for (const p of [ff, cr]) expect(await p.evaluate("log.errors")).toEqual([]);
    for (const b of browsers.splice(0)) await b.close();
  }, 90_000);

  test("behind two symmetric NATs: no direct path, the pair talks through the relay (peer.path 'relayed'), which sees only ciphertext; once the NATs allow it, an ICE restart moves them to a direct path", async () => {
    const recordFile = join(mkdtempSync(join(tmpdir(), "lumamesh-rec-")), "frames.bin");
    const { relay, rec } = await relayOn(relayHost, ["--record-frames", recordFile]);
    const { a, b, r1, r2 } = await pair("symmetric", rec, "symmetric-room", "sym");
    for (const p of [a, b]) {
      expect(await p.evaluate("room.peers.map((p) => [p.nick, p.path])")).toEqual([[p === a ? "bob" : "alice", "relayed"]]);
      expect(await p.evaluate<number>("log.peers[0].at")).toBeGreaterThan(2500);
      expect((await p.evaluate<any>(ICE)).state).not.toContain("connected");
    }
    await exchange(a, b, "through-symmetric");
    await a.evaluate(`room.send(Uint8Array.from({ length: 50000 }, (_, i) => (i * 13) & 255))`);
    await until(
      b,
      `log.msgs.some((m) => m.d instanceof Uint8Array && m.d.length == 50000 && m.d.every((x, i) => x == ((i * 13) & 255)) && m.path == "relayed")`,
      15_000,
      "50 kB relayed",
    );
    // The routers really did drop the direct attempts.
    expect((await r1.droppedInbound()) + (await r2.droppedInbound())).toBeGreaterThan(0);
    const text = readFileSync(recordFile).toString("latin1");
    expect(text.length).toBeGreaterThan(50000);
    // (Needles of 5 bytes or more: shorter ones turn up by chance in 100 kB of ciphertext.)
    for (const needle of ["symmetric-room", "alice", "through-symmetric", "a=fingerprint", "candidate", "192.168.", r1.ip, r2.ip])
      expect(text.includes(needle)).toBe(false);
    expect(text.includes(Buffer.from([0, 13, 26, 39, 52, 65, 78]).toString("latin1"))).toBe(false);
    for (const p of [a, b]) expect(await p.evaluate("log.errors")).toEqual([]);

    // The routers turn into cone NATs: the offerer's next ICE restart (every 10 s while relayed)
    // gets through, both sides move to the direct path, and it no longer needs the relay.
    for (const r of [r1, r2]) await r.run(["nft", "-f", "-"], { stdin: "flush ruleset\n" + natRuleset("cone") });
    for (const p of [a, b]) await until(p, `log.paths.includes("direct")`, 30_000, "switch to the direct path");
    for (const p of [a, b]) expect(await p.evaluate("room.peers.map((p) => p.path)")).toEqual(["direct"]);
    relay.proc.kill("SIGKILL");
    await relay.proc.exited;
    for (const p of [a, b]) await until(p, "net.relay === null", 10_000, "the relay's death noticed");
    await exchange(a, b, "direct-at-last");
    expect(await b.evaluate(`log.msgs.find((m) => m.d && m.d.tag == "direct-at-last").path`)).toBe("direct");
    for (const b of browsers.splice(0)) await b.close();
  }, 120_000);
});
