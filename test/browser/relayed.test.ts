// Relayed fallback on loopback, in real headless Chromium against a real relay process: a page whose
// mesh connections may not gather any candidate (iceTransportPolicy "relay" with no TURN server: no
// direct path exists) still talks to its peers, through the relay, sealed and paced; when the block
// is lifted, the offerer's next ICE restart moves the pair back to a direct path.
// (test/net/mesh.test.ts shows the same across real symmetric NATs in network namespaces.)
import { poll } from "../helpers/poll.ts";
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium, serveLibrary } from "../helpers/browser.ts";
import { startInProcessRelay, startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { T } from "../../protocol/frames.ts";

let browser: Browser;
let server: Awaited<ReturnType<typeof serveLibrary>>;
const pages: Page[] = [];
beforeAll(async () => {
  browser = await launchChromium();
  server = await serveLibrary();
});
afterAll(async () => {
  await browser?.close();
  server?.stop();
});

type Rec = { addr: string; fp: string };

/** A page in `room`; with `blocked`, its mesh RTCPeerConnections gather no candidates until unblocked. */
async function peerPage(rec: Rec, room: string, blocked: boolean): Promise<Page> {
  const page = await browser.newPage();
  pages.push(page);
  await page.goto(server.url);
  await page.evaluate(
    async ({ rec, room, blocked }) => {
      const g = globalThis as any;
      const { connect } = await import("/lumamesh.js");
      g.pcs = [];
      // Mesh connections are the ones with iceServers (the relays as STUN servers); the relay link has none.
      class Gate extends RTCPeerConnection {
        constructor(cfg?: RTCConfiguration) {
          super(cfg?.iceServers && blocked ? { ...cfg, iceTransportPolicy: "relay" } : cfg);
          if (cfg?.iceServers) g.pcs.push(this);
        }
      }
      g.unblock = () =>
        g.pcs.forEach((pc: RTCPeerConnection) => pc.setConfiguration({ ...pc.getConfiguration(), iceTransportPolicy: "all" }));
      g.net = await connect({ relays: [rec], RTCPeerConnection: Gate });
      g.log = { peers: [] as any[], paths: [] as string[], msgs: [] as any[], errors: [] as any[] };
      g.room = await g.net.joinRoom(room, { nick: blocked ? "walled" : "open" });
      g.t0 = performance.now();
      g.room.on("peer", (p: any) => {
        g.log.peers.push({ id: p.id, path: p.path, at: performance.now() - g.t0 });
        p.on("path", (x: string) => g.log.paths.push(x));
      });
      g.room.on("error", (e: any) => g.log.errors.push(e));
      g.room.on("message", (d: any, p: any) => {
        let sum = 0;
        if (d instanceof Uint8Array) for (let i = 0; i < d.length; i++) sum = (sum * 31 + d[i]) >>> 0;
        g.log.msgs.push({
          from: p.id,
          path: p.path,
          kind: d instanceof Uint8Array ? "bin" : typeof d,
          size: d?.length,
          sum,
          value: d instanceof Uint8Array ? null : d,
        });
      });
    },
    { rec, room, blocked },
  );
  return page;
}

const g = (p: Page, expr: string) => p.evaluate(expr) as Promise<any>;
const waitPeers = (p: Page, n: number, ms = 15000) =>
  p.waitForFunction((n) => (globalThis as any).log.peers.length >= n, n, { timeout: ms });
const waitMsgs = (p: Page, n: number, ms = 30000) => p.waitForFunction((n) => (globalThis as any).log.msgs.length >= n, n, { timeout: ms });
const checksum = (n: number) => {
  let sum = 0;
  for (let i = 0; i < n; i++) sum = (sum * 31 + ((i * 7) & 255)) >>> 0;
  return sum;
};

describe("relayed fallback (loopback, one side without a direct path)", () => {
  let relay: RelayProc;
  let recordFile: string;
  beforeAll(async () => {
    recordFile = join(mkdtempSync(join(tmpdir(), "lumamesh-rec-")), "frames.bin");
    relay = await startRelayProc({ args: ["--record-frames", recordFile, "--stats-interval", "0.5"] });
  });
  afterAll(async () => {
    for (const p of pages.splice(0)) await p.close().catch(() => {});
    await relay?.stop();
  });

  test("peers without a direct path meet through the relay: same peer object, path 'relayed', every data kind both ways, only ciphertext at the relay", async () => {
    const a = await peerPage(relay.record, "walled-garden-room", true);
    const b = await peerPage(relay.record, "walled-garden-room", false);
    await Promise.all([waitPeers(a, 1), waitPeers(b, 1)]);
    for (const p of [a, b]) {
      const [peer] = (await g(p, "log.peers")) as any[];
      expect(peer.path).toBe("relayed");
      expect(peer.at).toBeGreaterThan(2500); // after the fallback delay, not before
      expect(await g(p, "room.peers.map(p => p.path)")).toEqual(["relayed"]);
    }
    // The direct attempt really failed: the blocked page's mesh connection never connected.
    expect(await g(a, "pcs.map(pc => pc.iceConnectionState)")).not.toContain("connected");

    await g(a, `room.send({ hello: "from-walled-side", n: 1 })`);
    await g(a, `room.send("text-kumquat-from-a")`);
    await g(b, `room.send({ hello: "from-open-side", n: 2 })`);
    await g(b, `room.peers[0].send(Uint8Array.from({ length: 100000 }, (_, i) => (i * 7) & 255))`);
    await waitMsgs(b, 2);
    await waitMsgs(a, 2);
    const ma = (await g(a, "log.msgs")) as any[],
      mb = (await g(b, "log.msgs")) as any[];
    expect(mb.map((m) => m.value)).toEqual([{ hello: "from-walled-side", n: 1 }, "text-kumquat-from-a"]);
    expect(ma[0].value).toEqual({ hello: "from-open-side", n: 2 });
    expect(ma[1]).toMatchObject({ kind: "bin", size: 100000, sum: checksum(100000), path: "relayed" });
    expect(await g(a, "log.errors")).toEqual([]);

    // The relay carried it all, and saw none of it.
    const text = readFileSync(recordFile).toString("latin1");
    expect(text.length).toBeGreaterThan(100000);
    for (const needle of [
      "walled-garden-room",
      "walled",
      "from-walled-side",
      "from-open-side",
      "kumquat",
      "hello",
      "a=fingerprint",
      "candidate",
    ])
      expect(text.includes(needle)).toBe(false);
    // 100 KB of zero-to-255 ramps would show up as a run of 0x00 0x07 0x0e ... if it were not sealed.
    expect(text.includes(Buffer.from([0, 7, 14, 21, 28, 35, 42]).toString("latin1"))).toBe(false);
    const stats = await relay.waitFor("relay.stats", (l) => (l.counters?.["room.send"] ?? 0) > 10);
    expect(stats.counters["drop.relay-rate"] ?? 0).toBe(0);
  }, 60000);

  test("when a direct path opens up, the pair moves to it (path event), and then survives the relay's death", async () => {
    const own = await startRelayProc();
    const a = await peerPage(own.record, "gate-opens", true);
    const b = await peerPage(own.record, "gate-opens", false);
    await Promise.all([waitPeers(a, 1), waitPeers(b, 1)]);
    expect(await g(a, "room.peers[0].path")).toBe("relayed");
    await g(a, "unblock()");
    // The offerer retries an ICE restart every 10 s while relayed.
    for (const p of [a, b]) await p.waitForFunction(() => (globalThis as any).log.paths.includes("direct"), null, { timeout: 25000 });
    for (const p of [a, b]) expect(await g(p, "room.peers.map(p => p.path)")).toEqual(["direct"]);
    await own.stop("SIGKILL");
    for (const p of [a, b]) await p.waitForFunction(() => (globalThis as any).net.relay === null, null, { timeout: 10000 }); // the relay's death noticed
    await g(a, `room.send("direct-after-relay-death-a")`);
    await g(b, `room.send("direct-after-relay-death-b")`);
    await b.waitForFunction(() => (globalThis as any).log.msgs.some((m: any) => m.value === "direct-after-relay-death-a"), null, {
      timeout: 5000,
    });
    await a.waitForFunction(() => (globalThis as any).log.msgs.some((m: any) => m.value === "direct-after-relay-death-b"), null, {
      timeout: 5000,
    });
    expect((await g(b, "log.msgs")).at(-1).path).toBe("direct");
  }, 60000);

  test("relayed sends are paced under the byte and frame rates the relay announced: nothing is cut by its limits", async () => {
    const slow = await startRelayProc({
      args: [
        "--limit",
        "relayRate=20000",
        "--limit",
        "relayBurst=40000",
        "--limit",
        "msgRate=20",
        "--limit",
        "msgBurst=30",
        "--stats-interval",
        "0.5",
      ],
    });
    try {
      const a = await peerPage(slow.record, "slow-lane", true);
      const b = await peerPage(slow.record, "slow-lane", false);
      await Promise.all([waitPeers(a, 1), waitPeers(b, 1)]);
      await g(a, `room.send(Uint8Array.from({ length: 80000 }, (_, i) => (i * 7) & 255))`);
      await waitMsgs(b, 1, 20000);
      expect((await g(b, "log.msgs"))[0]).toMatchObject({ kind: "bin", size: 80000, sum: checksum(80000) });
      // 60 small messages at once: three times the frame rate, twice the burst.
      await g(a, `Promise.all(Array.from({ length: 60 }, (_, i) => room.send({ i })))`);
      await waitMsgs(b, 61, 20000);
      expect((await g(b, "log.msgs")).slice(1).map((m: any) => m.value.i)).toEqual(Array.from({ length: 60 }, (_, i) => i));
      // Twice the relay's byte burst and three times its frame rate went through, and the relay
      // dropped nothing: the sender paced itself.
      const stats = await slow.waitFor("relay.stats", (l) => (l.counters?.["room.send"] ?? 0) > 60);
      expect(stats.counters["drop.relay-rate"] ?? 0).toBe(0);
      expect(stats.counters["drop.rate"] ?? 0).toBe(0);
    } finally {
      await slow.stop();
    }
  }, 60000);
});

describe("a relay that replays what it forwards", () => {
  test("every DELIVER sent twice: signaling and relayed data are taken once, the copies counted as rejected", async () => {
    // A real relay (in this process) whose core sends every DELIVER twice: what a malicious relay
    // could do with sealed messages it cannot read.
    const { relay, rec } = await startInProcessRelay();
    const forward = relay.core.handleMessage.bind(relay.core);
    let copies = 0;
    relay.core.handleMessage = (key, msg, now) =>
      forward(key, msg, now).flatMap((a) => (a.type === "frame" && a.data[0] === T.DELIVER ? (copies++, [a, a]) : [a]));
    try {
      const a = await peerPage(rec, "echo-chamber", true);
      const b = await peerPage(rec, "echo-chamber", false);
      await Promise.all([waitPeers(a, 1), waitPeers(b, 1)]);
      for (let i = 0; i < 5; i++) await g(a, `room.send({ n: ${i} })`);
      await g(a, `room.send(Uint8Array.from({ length: 40000 }, (_, i) => (i * 7) & 255))`);
      await waitMsgs(b, 6);
      // Every copy that reached a page is counted: wait until all of them were (no sleeping on luck).
      const rejected = async () => (await g(a, "room.stats.rejected")) + (await g(b, "room.stats.rejected"));
      await poll(
        async () => (await rejected()) === copies,
        20000,
        async () => `${await rejected()} of ${copies} copies counted`,
      );
      const got = (await g(b, "log.msgs")) as any[];
      expect(got.slice(0, 5).map((m) => m.value)).toEqual([0, 1, 2, 3, 4].map((n) => ({ n })));
      expect(got[5]).toMatchObject({ kind: "bin", size: 40000, sum: checksum(40000), path: "relayed" });
      expect(got.length).toBe(6);
      expect(copies).toBeGreaterThan(10);
      // Every copy that reached a page was refused, on both sides (signaling too).
      for (const p of [a, b]) expect(await g(p, "room.stats.rejected")).toBeGreaterThan(0);
      expect((await g(a, "room.stats.rejected")) + (await g(b, "room.stats.rejected"))).toBe(copies);
      // Reported once per page and peer, as a replay; never delivered.
      for (const p of [a, b]) expect(((await g(p, "log.errors")) as any[]).map((e) => e.code)).toEqual(["replay"]);
    } finally {
      for (const p of pages.splice(0)) await p.close().catch(() => {});
      await relay.stop();
    }
  }, 60000);
});
