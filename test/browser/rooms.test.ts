// Rooms and the direct mesh in real headless Chromium: several pages, one real relay process.
// Full mesh with every data kind both ways, surviving the relay's death, prompt leave, a relay
// that records only ciphertext, wrong passwords, tampering, and relay limits.
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { readFileSync, mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium, serveLibrary } from "../helpers/browser.ts";
import { startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { deriveRoom, sealMsg, webCrypto } from "../../src/seal.ts";
import { E, T, encode } from "../../protocol/frames.ts";
import { Sealed } from "../../protocol/sealed.ts";

let browser: Browser;
let server: Awaited<ReturnType<typeof serveLibrary>>;
beforeAll(async () => {
  browser = await launchChromium();
  server = await serveLibrary();
});
afterAll(async () => {
  await browser?.close();
  server?.stop();
});

type Rec = { addr: string; fp: string };

/** A page connected to the relay, joined to `room`, logging every room event into globalThis.log. */
async function peerPage(rec: Rec, room: string, opts: { nick?: string; password?: string } = {}): Promise<Page> {
  const page = await browser.newPage();
  await page.addInitScript(traceConnections);
  allPages.push(page);
  await page.goto(server.url);
  await page.evaluate(
    async ({ rec, room, opts }) => {
      const g = globalThis as any;
      const { connect } = await import("/lumamesh.js");
      g.net = await connect({ relays: [rec] });
      g.log = { peers: [] as string[], leaves: [] as [string, number][], msgs: [] as any[], errors: [] as any[] };
      g.relayErrors = [];
      g.net.on("error", (e: any) => g.relayErrors.push(e));
      g.room = await g.net.joinRoom(room, opts);
      g.room.on("peer", (p: any) => g.log.peers.push(p.id));
      g.room.on("leave", (p: any) => g.log.leaves.push([p.id, performance.now()]));
      g.room.on("error", (e: any) => g.log.errors.push(e));
      g.room.on("message", (d: any, p: any) => {
        const kind = d instanceof Uint8Array ? "bin" : typeof d;
        // Keep a digest of big messages so the test can compare without shipping megabytes back.
        const size = d instanceof Uint8Array ? d.length : typeof d === "string" ? d.length : JSON.stringify(d).length;
        let sum = 0;
        if (d instanceof Uint8Array) for (let i = 0; i < d.length; i++) sum = (sum * 31 + d[i]) >>> 0;
        g.log.msgs.push({
          from: p.id,
          nick: p.nick,
          kind,
          size,
          sum,
          value: size < 2000 ? (d instanceof Uint8Array ? Array.from(d) : d) : null,
        });
      });
    },
    { rec, room, opts },
  );
  return page;
}

/** Page-side trace of every RTCPeerConnection, dumped when a test times out waiting for peers. */
function traceConnections() {
  const g = globalThis as any;
  const PC = g.RTCPeerConnection;
  g.__pcs = [];
  g.RTCPeerConnection = class extends PC {
    log: string[] = [];
    constructor(...a: any[]) {
      super(...a);
      g.__pcs.push(this);
      const t0 = performance.now();
      const log = (what: string) => this.log.push(`+${Math.round(performance.now() - t0)}ms ${what}`);
      this.addEventListener("iceconnectionstatechange", () => log("ice " + this.iceConnectionState));
      this.addEventListener("connectionstatechange", () => log("conn " + this.connectionState));
      this.addEventListener("signalingstatechange", () => log("sig " + this.signalingState));
      this.addEventListener("icecandidate", (e: any) => log("cand " + (e.candidate?.candidate?.split(" ").slice(4, 8).join(" ") ?? "end")));
    }
  };
  g.RTCPeerConnection.generateCertificate = PC.generateCertificate;
  g.__dump = () =>
    `page ${g.net?.id} peers=[${g.room?.peers.map((p: any) => p.id)}]\n` +
    g.__pcs
      .map((pc: any, i: number) => {
        const remote = /a=fingerprint:sha-256 (\S+)/
          .exec(pc.remoteDescription?.sdp ?? "")?.[1]
          ?.replace(/:/g, "")
          .slice(0, 16)
          .toLowerCase();
        return `  pc${i} remote=${remote} sig=${pc.signalingState} ice=${pc.iceConnectionState} conn=${pc.connectionState}\n    ${pc.log.join("\n    ")}`;
      })
      .join("\n");
}

let traceRelay: RelayProc | undefined;
async function dumpAll(pages: Page[]) {
  if (traceRelay)
    console.error(
      traceRelay.lines
        .filter((l) => /session\.(close|new)|room|ERROR/.test(l.event))
        .map((l) => JSON.stringify(l))
        .join("\n"),
    );
  for (const p of pages) if (!p.isClosed()) console.error(await p.evaluate(() => (globalThis as any).__dump()).catch((e) => String(e)));
}

const id = (p: Page) => p.evaluate(() => (globalThis as any).net.id as string);
const allPages: Page[] = [];
const waitPeers = async (p: Page, n: number, ms = 20000) => {
  try {
    await p.waitForFunction((n) => (globalThis as any).room.peers.length >= n, n, { timeout: ms });
  } catch (e) {
    await dumpAll(allPages);
    throw e;
  }
};

/** Every page sends JSON, text, binary and 1 MB binary to every other page, directly. */
async function exchangeAll(pages: Page[]) {
  const ids = await Promise.all(pages.map(id));
  await Promise.all(
    pages.map((p) =>
      p.evaluate(async () => {
        const g = globalThis as any;
        const big = new Uint8Array(1 << 20);
        for (let i = 0; i < big.length; i++) big[i] = (i * 7 + 3) & 255;
        for (const peer of g.room.peers) {
          await peer.send({ json: true, to: peer.id, n: [1, 2, 3] });
          await peer.send("text to " + peer.id);
          await peer.send(new Uint8Array([1, 2, 3, 254, 255]));
          await peer.send(big);
        }
      }),
    ),
  );
  let expectedSum = 0;
  for (let i = 0; i < 1 << 20; i++) expectedSum = (expectedSum * 31 + ((i * 7 + 3) & 255)) >>> 0;
  for (const [i, p] of pages.entries()) {
    await p.waitForFunction((n) => (globalThis as any).log.msgs.length >= n, 4 * (pages.length - 1), { timeout: 30000 });
    const msgs = await p.evaluate(() => (globalThis as any).log.msgs);
    for (const [j, other] of ids.entries()) {
      if (j === i) continue;
      const from = msgs.filter((m: any) => m.from === other);
      expect(from.map((m: any) => m.kind)).toEqual(["object", "string", "bin", "bin"]);
      expect(from[0].value).toEqual({ json: true, to: ids[i], n: [1, 2, 3] });
      expect(from[1].value).toBe("text to " + ids[i]);
      expect(from[2].value).toEqual([1, 2, 3, 254, 255]);
      expect(from[3]).toMatchObject({ size: 1 << 20, sum: expectedSum });
    }
  }
}

describe("rooms and the direct mesh", () => {
  let relay: RelayProc;
  let recordFile: string;
  beforeAll(async () => {
    recordFile = join(mkdtempSync(join(tmpdir(), "lumamesh-rec-")), "frames.bin");
    relay = traceRelay = await startRelayProc({ args: ["--record-frames", recordFile, "--stats-interval", "0.5"] });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test("2 peers mesh and exchange JSON, text, binary and 1 MB both ways, intact", async () => {
    const pages = [await peerPage(relay.record, "duo", { nick: "alice" }), await peerPage(relay.record, "duo", { nick: "bob" })];
    await Promise.all(pages.map((p) => waitPeers(p, 1)));
    const nicks = await Promise.all(pages.map((p) => p.evaluate(() => (globalThis as any).room.peers.map((x: any) => x.nick))));
    expect(nicks).toEqual([["bob"], ["alice"]]);
    await exchangeAll(pages);
    for (const p of pages) await p.close();
  }, 60000);

  test("5 peers form a full mesh and every pair exchanges everything both ways", async () => {
    const pages: Page[] = [];
    for (let i = 0; i < 5; i++) pages.push(await peerPage(relay.record, "five", { nick: "p" + i }));
    await Promise.all(pages.map((p) => waitPeers(p, 4)));
    const ids = await Promise.all(pages.map(id));
    for (const [i, p] of pages.entries()) {
      const peers = await p.evaluate(() => (globalThis as any).room.peers.map((x: any) => x.id).sort());
      expect(peers).toEqual(ids.filter((_, j) => j !== i).sort());
    }
    await exchangeAll(pages);
    for (const p of pages) await p.close();
  }, 120000);

  test("a peer that closes its tab is reported by leave on all others (its goodbye, not a timeout)", async () => {
    const pages: Page[] = [];
    for (let i = 0; i < 3; i++) pages.push(await peerPage(relay.record, "leavers"));
    await Promise.all(pages.map((p) => waitPeers(p, 2)));
    const gone = await id(pages[2]);
    const t0 = Date.now();
    await pages[2].close();
    for (const p of pages.slice(0, 2)) {
      // Waits below the relay's 30 s idle timeout and ICE consent's ~30 s: only the goodbye (SCTP
      // ABORT to the peers, LEAVE to the relay) gets here in time; how fast is bench/ material.
      await p.waitForFunction((g) => (globalThis as any).log.leaves.some((l: any) => l[0] === g), gone, { timeout: 20000 });
      expect(await p.evaluate(() => (globalThis as any).room.peers.length)).toBe(1);
    }
    console.log(`leave seen by both others after ${Date.now() - t0} ms`);
    for (const p of pages.slice(0, 2)) await p.close();
  }, 30000);

  test("the relay records only ciphertext: no room name, nick, SDP, candidate or plaintext", async () => {
    const pages = [
      await peerPage(relay.record, "secret-room-name-42", { nick: "nick-zanzibar" }),
      await peerPage(relay.record, "secret-room-name-42", { nick: "nick-quokka" }),
    ];
    await Promise.all(pages.map((p) => waitPeers(p, 1)));
    await pages[0].evaluate(() => (globalThis as any).room.send("plaintext-marmalade-message"));
    await pages[1].waitForFunction(() => (globalThis as any).log.msgs.length >= 1);
    const bytes = readFileSync(recordFile);
    expect(bytes.length).toBeGreaterThan(1000); // the recording did capture the signaling
    const text = bytes.toString("latin1");
    // Needles of 6 bytes and more (a shorter one could occur in ciphertext by chance); a failure names it.
    const found = [
      "secret-room-name-42",
      "nick-zanzibar",
      "nick-quokka",
      "plaintext-marmalade",
      "m=application",
      "a=setup:",
      "a=mid:",
      "a=fingerprint",
      "a=ice-ufrag",
      "candidate",
      "typ host",
      "UDP/DTLS/SCTP",
    ].filter((needle) => text.includes(needle));
    expect(found).toEqual([]);
    // Also not as UTF-16 or base64 of the room name.
    expect(text.includes(Buffer.from("secret-room-name-42").toString("base64").slice(0, 20))).toBe(false);
    for (const p of pages) await p.close();
  }, 30000);

  test("after the mesh forms, killing the relay does not stop messages between the peers", async () => {
    const own = await startRelayProc();
    const pages = [await peerPage(own.record, "survive"), await peerPage(own.record, "survive")];
    await Promise.all(pages.map((p) => waitPeers(p, 1)));
    await own.stop("SIGKILL");
    // Once both pages noticed the relay is gone (their link is down), the direct channel alone carries on.
    for (const p of pages) await p.waitForFunction(() => (globalThis as any).net.relay === null, null, { timeout: 10000 });
    for (let i = 0; i < 5; i++) await pages[0].evaluate((i) => (globalThis as any).room.send({ after: "relay died", i }), i);
    await pages[1].waitForFunction(() => (globalThis as any).log.msgs.filter((m: any) => m.value?.after).length === 5, null, {
      timeout: 5000,
    });
    await pages[1].evaluate(() => (globalThis as any).room.send("and back"));
    await pages[0].waitForFunction(() => (globalThis as any).log.msgs.some((m: any) => m.value === "and back"), null, { timeout: 5000 });
    expect(await pages[0].evaluate(() => (globalThis as any).room.peers.length)).toBe(1);
    for (const p of pages) await p.close();
  }, 30000);

  test("same room, wrong password: no peer, nothing decrypted, a clear reason for the app", async () => {
    const a = await peerPage(relay.record, "locked", { password: "right" });
    const b = await peerPage(relay.record, "locked", { password: "wrong" });
    // Each says HELLO and neither can open the other's: wait for both complaints.
    await Promise.all([a, b].map((p) => p.waitForFunction(() => (globalThis as any).log.errors.length > 0, null, { timeout: 10000 })));
    const [la, lb] = await Promise.all(
      [a, b].map((p) => p.evaluate(() => ({ ...(globalThis as any).log, rejected: (globalThis as any).room.stats.rejected }))),
    );
    expect(la.peers).toEqual([]);
    expect(lb.peers).toEqual([]);
    expect(la.msgs).toEqual([]);
    const errs = [...la.errors, ...lb.errors];
    expect(errs.length).toBeGreaterThan(0);
    expect(errs[0]).toMatchObject({ code: "decrypt", message: expect.stringContaining("wrong room password") });
    expect(la.rejected + lb.rejected).toBeGreaterThan(0);
    await a.close();
    await b.close();
  }, 30000);

  test("a tampered ciphertext is rejected and counted, not delivered", async () => {
    const a = await peerPage(relay.record, "tamper");
    const m = await peerPage(relay.record, "tamper"); // m will send forged frames through its relay link
    await Promise.all([a, m].map((p) => waitPeers(p, 1)));
    const [aid, mid] = await Promise.all([id(a), id(m)]);
    const keys = await deriveRoom(webCrypto, "tamper");
    const hexb = (h: string) => Uint8Array.from(h.match(/../g)!, (x) => parseInt(x, 16));
    // A HELLO (to no session) with one ciphertext bit flipped: it cannot open.
    const sealed = await sealMsg(
      webCrypto,
      keys,
      hexb(mid),
      hexb(aid),
      5,
      new Uint8Array(8),
      new TextEncoder().encode(JSON.stringify({ nick: "x" })),
    );
    sealed[20] ^= 1; // flip one ciphertext bit
    const data = Array.from([Sealed.HELLO, ...sealed]);
    const before = await a.evaluate(() => (globalThis as any).room.stats.rejected);
    await m.evaluate(
      ({ t, topic, to, data }) =>
        (globalThis as any).net.send({ t, topic: new Uint8Array(topic), to: new Uint8Array(to), data: new Uint8Array(data) }),
      { t: T.SEND, topic: Array.from(keys.topic), to: Array.from(hexb(aid)), data },
    );
    await a.waitForFunction((b) => (globalThis as any).room.stats.rejected > b, before, { timeout: 5000 });
    const log = await a.evaluate(() => (globalThis as any).log);
    expect(log.errors[0]).toMatchObject({ code: "decrypt", peer: mid });
    expect(log.msgs).toEqual([]);
    expect(log.peers).toEqual([mid]); // the real connection is unharmed
    await a.close();
    await m.close();
  }, 30000);
});

describe("relay limits reach only the offender", () => {
  let relay: RelayProc;
  beforeAll(async () => {
    relay = await startRelayProc({ args: ["--limit", "roomsPerSession=2", "--limit", "msgRate=50", "--limit", "msgBurst=60"] });
  });
  afterAll(async () => relay?.stop());

  test("oversized frame, too many rooms and a flood give ERROR frames to the offender; others carry on", async () => {
    const good = [await peerPage(relay.record, "calm"), await peerPage(relay.record, "calm")];
    const bad = await peerPage(relay.record, "calm");
    await Promise.all(good.map((p) => waitPeers(p, 2)));
    // Oversized: a 20,000-byte frame (the relay allows 16,384).
    await bad.evaluate((t) => (globalThis as any).net.send({ t, topic: new Uint8Array(16), data: new Uint8Array(20000) }), T.BCAST);
    await bad.waitForFunction((c) => (globalThis as any).relayErrors.some((e: any) => e.code === c), E.FRAME_SIZE, { timeout: 20000 });
    // Too many rooms: "calm" is one, a second is fine, a third is refused.
    const third = await bad.evaluate(async () => {
      const g = globalThis as any;
      await g.net.joinRoom("second");
      try {
        await g.net.joinRoom("third");
        return "joined";
      } catch (e: any) {
        return e.message;
      }
    });
    expect(third).toContain(`at most 2 rooms per session (${E.ROOMS})`);
    // Flood: 500 PINGs at once.
    await bad.evaluate((t) => {
      for (let i = 0; i < 500; i++) (globalThis as any).net.send({ t, data: new Uint8Array(4) });
    }, T.PING);
    await bad.waitForFunction((c) => (globalThis as any).relayErrors.some((e: any) => e.code === c), E.RATE, { timeout: 20000 });
    const codes = await bad.evaluate(() => (globalThis as any).relayErrors.map((e: any) => e.code));
    expect(codes.filter((c: number) => c === E.RATE).length).toBe(1); // one ERROR, not one per dropped frame
    // The others: pings answered, messages flow, nobody got an ERROR.
    for (const p of good) {
      expect(await p.evaluate(() => (globalThis as any).net.ping())).toBeGreaterThan(0);
      expect(await p.evaluate(() => (globalThis as any).relayErrors)).toEqual([]);
    }
    await good[0].evaluate(() => (globalThis as any).room.send("still here"));
    await good[1].waitForFunction(() => (globalThis as any).log.msgs.some((m: any) => m.value === "still here"), null, { timeout: 5000 });
    for (const p of [...good, bad]) await p.close();
  }, 60000);
});
