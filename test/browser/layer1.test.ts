// Layer 1 in a real browser: headless Chromium opens a DataChannel to a real relay process with
// no signaling server, from source and from the compiled executable; wrong fingerprints and versions fail fast;
// idle sessions are kept alive by consent checks; killed browsers are reaped; junk never hurts.
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { createSocket } from "node:dgram";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium, launchKillableChromium, serveLibrary } from "../helpers/browser.ts";
import { startInProcessRelay, startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { buildRelay } from "../../build.ts";
import { encodeStun, ATTR } from "../../relay/stun.ts";

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

async function newPage(): Promise<Page> {
  const page = await browser.newPage();
  await page.goto(server.url);
  return page;
}

/** In the page: connect to one relay, ping it, report the outcome. */
async function connectAndPing(page: Page, relay: { addr: string; fp: string }, opts: { keep?: boolean; timeout?: number } = {}) {
  return page.evaluate(
    async ({ relay, opts }) => {
      const { connect } = await import("/lumamesh.js");
      const t0 = performance.now();
      try {
        const net = await connect({ relays: [relay], timeout: opts.timeout ?? 8000 });
        const ms = performance.now() - t0;
        const rtt = await net.ping();
        if (opts.keep) (globalThis as any).net = net;
        else net.close();
        return { ok: true as const, ms, rtt, relay: net.relay?.addr ?? relay.addr };
      } catch (e: any) {
        return { ok: false as const, ms: performance.now() - t0, name: e?.name, message: String(e?.message), attempts: e?.attempts };
      }
    },
    { relay, opts },
  );
}

describe("Layer 1 with headless Chromium", () => {
  let relay: RelayProc;
  beforeAll(async () => {
    relay = await startRelayProc({ args: ["--idle-timeout", "6", "--stats-interval", "0.5"] });
  });
  afterAll(async () => {
    await relay?.stop();
  });

  test("a page opens the channel to the relay run from source and exchanges PING/PONG", async () => {
    const page = await newPage();
    const r = await connectAndPing(page, relay.record);
    expect(r).toMatchObject({ ok: true, relay: relay.record.addr });
    if (r.ok) expect(r.rtt).toBeGreaterThan(0);
    await relay.waitFor("session.open");
    await page.close();
  });

  test("a wrong fingerprint rejects with the fingerprint error, not a hang", async () => {
    const page = await newPage();
    const wrong = relay.record.fp.replace(/^../, relay.record.fp.startsWith("00") ? "11" : "00");
    const r = await connectAndPing(page, { addr: relay.record.addr, fp: wrong }, { timeout: 8000 });
    expect(r.ok).toBe(false);
    if (!r.ok) {
      expect(r.name).toBe("ConnectError");
      expect(r.attempts).toEqual([
        { relay: relay.record.addr, reason: "dtls-fingerprint", message: expect.stringContaining("fingerprint") },
      ]);
      expect(r.message).toContain(relay.record.addr);
    }
    await page.close();
  });

  test("an unreachable relay rejects naming the relay and the ICE timeout", async () => {
    const page = await newPage();
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    const silent = `127.0.0.1:${sock.address().port}`; // bound but never answers
    const r = await connectAndPing(page, { addr: silent, fp: relay.record.fp }, { timeout: 1500 });
    sock.close();
    expect(r).toMatchObject({ ok: false, name: "ConnectError" });
    if (!r.ok)
      expect(r.attempts).toEqual([{ relay: silent, reason: "ice-timeout", message: expect.stringContaining("ICE timeout after 1500 ms") }]);
    await page.close();
  });

  test("a relay that speaks no version the page speaks: the page fails with reason version, naming the relay", async () => {
    // A real relay (in this process) that hears every HELLO as "versions 2..2": its core refuses
    // with ERROR 100 and closes the session, exactly as a relay of another version would.
    const { relay: other, rec } = await startInProcessRelay();
    const forward = other.core.handleMessage.bind(other.core);
    other.core.handleMessage = (key, msg, now) => forward(key, msg[0] === 1 ? Uint8Array.of(1, 2, 2) : msg, now);
    try {
      const page = await newPage();
      const addr = rec.addr;
      const r = await connectAndPing(page, rec);
      expect(r).toMatchObject({ ok: false, name: "ConnectError" });
      expect(r.attempts).toEqual([
        { relay: addr, reason: "version", message: `${addr}: relay refused: relay speaks version 1 only (100)` },
      ]);
      expect(other.core.counters["drop.version"]).toBe(1);
      await page.close();
    } finally {
      await other.stop();
    }
  });

  test("a malformed relay entry is refused before any network use", async () => {
    const page = await newPage();
    const r = await connectAndPing(page, { addr: "relay.example:80", fp: "nope" });
    expect(r).toMatchObject({ ok: false, attempts: [{ relay: "relay.example:80", reason: "bad-relay" }] });
    await page.close();
  });

  test("a page stays connected past the relay's idle timeout (consent checks keep it alive)", async () => {
    const page = await newPage();
    const r = await connectAndPing(page, relay.record, { keep: true });
    expect(r.ok).toBe(true);
    await Bun.sleep(10000); // idle timeout is 6 s
    const rtt = await page.evaluate(() => (globalThis as any).net.ping());
    expect(rtt).toBeGreaterThan(0);
    expect(await page.evaluate(() => (globalThis as any).net.relay?.addr)).toBe(relay.record.addr);
    await page.evaluate(() => (globalThis as any).net.close());
    await page.close();
  }, 30000);

  test("a killed browser's session is reaped", async () => {
    const { browser: other, kill } = await launchKillableChromium();
    const page = await other.newPage();
    await page.goto(server.url);
    const r = await connectAndPing(page, relay.record, { keep: true });
    expect(r.ok).toBe(true);
    const before = relay.lines.filter((l) => l.event === "session.close").length;
    // SIGKILL: no DTLS close_notify, no SCTP ABORT; only the idle timeout can notice.
    kill();
    const closed = await relay.waitFor(
      "session.close",
      (l) => relay.lines.filter((x) => x.event === "session.close").indexOf(l) >= before && l.reason === "idle",
      20000,
    );
    expect(closed.reason).toBe("idle");
    await other.close().catch(() => {});
  }, 30000);

  test("after a barrage of bad datagrams the relay is up, counted them, and a browser still connects", async () => {
    const sock = createSocket("udp4");
    await new Promise<void>((r) => sock.bind(0, "127.0.0.1", r));
    const send = (b: Uint8Array) => new Promise<void>((r) => sock.send(b, relay.record.port, "127.0.0.1", () => r()));
    const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
    const u = "A".repeat(32);
    const check = (username: string, key: Uint8Array) =>
      encodeStun(
        {
          method: 1,
          cls: 0,
          txid: rnd(12),
          attrs: [
            { type: ATTR.USERNAME, value: new TextEncoder().encode(username) },
            { type: ATTR.ICE_CONTROLLING, value: rnd(8) },
          ],
        },
        { integrityKey: key, fingerprint: true },
      );
    for (let i = 0; i < 300; i++) {
      await send(rnd(1 + (i % 200))); // random bytes
      await send(check(`${u}:${u}`, new TextEncoder().encode(u)).subarray(0, 20 + (i % 40))); // truncated STUN
      await send(check(`${u}:${u}`, new TextEncoder().encode("wrong-password-wrong"))); // bad integrity
      await send(check(`${u}:abc`, new TextEncoder().encode(u))); // browser's half too short
      await send(check(`x:y`, new TextEncoder().encode("x"))); // malformed USERNAME
      const dtls = rnd(60);
      dtls[0] = 22; // DTLS handshake byte, no session
      await send(dtls);
      await Bun.sleep(2); // pace it: a burst would overflow the socket buffer and lose datagrams
    }
    sock.close();
    // Counted by kind (not by how many arrived: UDP on a loaded machine may lose some): DTLS without a
    // session, non-STUN/DTLS bytes, and STUN refused for at least two different reasons.
    const stunReasons = (c: Record<string, number>) => Object.keys(c).filter((k) => k.startsWith("drop.stun.") && c[k]! > 0);
    const stats = await relay.waitFor(
      "relay.stats",
      (l) =>
        (l.counters["drop.dtls-no-session"] ?? 0) > 0 &&
        (l.counters["drop.not-stun-or-dtls"] ?? 0) > 0 &&
        stunReasons(l.counters).length >= 2,
      30000,
    );
    const c = stats.counters as Record<string, number>;
    expect(stunReasons(c).length).toBeGreaterThanOrEqual(2);
    expect(c["drop.not-stun-or-dtls"]).toBeGreaterThan(0);
    expect(relay.proc.exitCode).toBeNull();
    const page = await newPage();
    const r = await connectAndPing(page, relay.record);
    expect(r.ok).toBe(true);
    await page.close();
  }, 30000);

  test("the relay survives being stopped and a page reconnects when it returns on the same port", async () => {
    const dataDir = relay.dataDir;
    const port = relay.record.port;
    const page = await newPage();
    const r = await connectAndPing(page, relay.record, { keep: true });
    expect(r.ok).toBe(true);
    await page.evaluate(() => {
      const n = (globalThis as any).net;
      (globalThis as any).events = [];
      n.on("disconnect", (w: string) => (globalThis as any).events.push("disconnect"));
      n.on("reconnect", () => (globalThis as any).events.push("reconnect"));
    });
    await relay.stop("SIGKILL");
    relay = await startRelayProc({ dataDir, args: ["--port", String(port), "--idle-timeout", "6", "--stats-interval", "0.5"] });
    // Same data dir: same certificate, so the fingerprint the page knows still holds.
    expect(relay.record.port).toBe(port);
    await page.waitForFunction(() => (globalThis as any).events.includes("reconnect"), null, { timeout: 45000 });
    expect(await page.evaluate(() => (globalThis as any).net.ping())).toBeGreaterThan(0);
    await page.evaluate(() => (globalThis as any).net.close());
    await page.close();
  }, 60000);
});

describe("Layer 1 against the compiled executable", () => {
  test("bun build --compile produces a relay a page connects to", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lumamesh-exe-"));
    const exe = await buildRelay(join(dir, "lumamesh-relay"));
    const v = Bun.spawnSync([exe, "--version"]);
    expect(v.stdout.toString()).toMatch(/^lumamesh-relay \d+\.\d+\.\d+\n$/);
    const relay = await startRelayProc({ exe });
    try {
      const page = await newPage();
      const r = await connectAndPing(page, relay.record);
      expect(r).toMatchObject({ ok: true });
      await page.close();
    } finally {
      await relay.stop();
    }
  }, 120000);
});
