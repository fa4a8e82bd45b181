// The Layer-1 handshake without SDP munging (docs/protocol.md §1), in headless Chromium with and
// without the field trial that refuses a page's changed a=ice-ufrag/a=ice-pwd
// (WebRTC-NoSdpMangleUfrag; every other browser test runs with it on). The trial is shown to be in
// force (the munged offer is refused), the library connects either way, and the previous library
// (commit PREVIOUS_LIBRARY, bundled from git history: USERNAME "R:R") still connects to this relay.
// The relay runs in this process so the test can read every check's USERNAME as it arrives.
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import type { Browser, Page } from "playwright-core";
import { launchChromium, previousLibraryBytes, serveLibrary, PREVIOUS_LIBRARY } from "../helpers/browser.ts";
import { startInProcessRelay } from "../helpers/relay.ts";
import { ATTR, getAttr, parseStun } from "../../relay/stun.ts";

type Rec = { addr: string; fp: string };
let relay: Awaited<ReturnType<typeof startInProcessRelay>>;
let server: Awaited<ReturnType<typeof serveLibrary>>;
/** USERNAME of every STUN request the relay received, in order. */
const usernames: string[] = [];
const browsers: Record<"on" | "off", Browser> = {} as any;

beforeAll(async () => {
  relay = await startInProcessRelay();
  const handle = relay.relay.core.handleDatagram.bind(relay.relay.core);
  relay.relay.core.handleDatagram = (buf, from, now) => {
    const m = buf[0] <= 3 ? parseStun(buf) : null;
    const u = m && m.cls === 0 ? getAttr(m, ATTR.USERNAME) : undefined;
    if (u) usernames.push(new TextDecoder().decode(u));
    return handle(buf, from, now);
  };
  const previous = await previousLibraryBytes();
  server = await serveLibrary({
    "/previous.js": () => new Response(previous as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } }),
  });
  browsers.on = await launchChromium();
  browsers.off = await launchChromium({ fieldTrials: false });
}, 60_000);
afterAll(async () => {
  for (const b of Object.values(browsers)) await b?.close();
  server?.stop();
  await relay?.relay.stop();
});

async function page(trial: "on" | "off"): Promise<Page> {
  const p = await browsers[trial].newPage();
  await p.goto(server.url);
  return p;
}

/** In the page: connect with the library at `lib` (no reconnect), ping, close; the outcome. */
const connectWith = (p: Page, lib: string, rec: Rec) =>
  p.evaluate(
    async ({ lib, rec }) => {
      const { connect } = await import(lib);
      try {
        const net = await connect({ relays: [rec], reconnect: false, timeout: 8000 });
        const rtt = await net.ping();
        net.close();
        return { ok: true as const, rtt };
      } catch (e: any) {
        return { ok: false as const, name: e?.name, attempts: e?.attempts };
      }
    },
    { lib, rec },
  );

/** In the page: the previous library's offer edit, by hand, as its src/link.ts did it; the error name and message, or "accepted". */
const mungeByHand = (p: Page) =>
  p.evaluate(async () => {
    const pc = new RTCPeerConnection();
    pc.createDataChannel("", { negotiated: true, id: 0 });
    const offer = await pc.createOffer();
    const u = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(24))));
    const sdp = offer.sdp!.replace(/^a=ice-ufrag:.*$/m, "a=ice-ufrag:" + u).replace(/^a=ice-pwd:.*$/m, "a=ice-pwd:" + u);
    try {
      await pc.setLocalDescription({ type: "offer", sdp });
      return "accepted";
    } catch (e: any) {
      return `${e.name}: ${e.message}`;
    } finally {
      pc.close();
    }
  });

/** The USERNAMEs received since index `from`, split in halves. */
const halves = (from: number) => usernames.slice(from).map((u) => u.split(":"));

describe("Layer 1 without SDP munging, Chromium with and without WebRTC-NoSdpMangleUfrag", () => {
  test("with the trial (as every test runs Chromium) a changed ice-ufrag is refused; without it, accepted", async () => {
    const on = await page("on"),
      off = await page("off");
    const refused = await mungeByHand(on);
    expect(refused).toStartWith("InvalidModificationError: ");
    expect(refused).toContain("SDP is modified in a non-acceptable way");
    expect(await mungeByHand(off)).toBe("accepted");
    await on.close();
    await off.close();
  });

  test("with the trial, the previous library's connect() fails in setLocalDescription, before any check is sent", async () => {
    const p = await page("on");
    const n = usernames.length;
    const r = await connectWith(p, "/previous.js", relay.rec);
    expect(r).toMatchObject({ ok: false, name: "ConnectError" });
    if (!r.ok) {
      expect(r.attempts).toHaveLength(1);
      expect(r.attempts[0].message).toContain("SDP is modified in a non-acceptable way");
    }
    expect(usernames.length).toBe(n);
    await p.close();
  });

  for (const trial of ["on", "off"] as const) {
    test(`trial ${trial}: this library connects and pings; its checks say "R:<Chromium's own 4-char ufrag>"`, async () => {
      const p = await page(trial);
      const n = usernames.length;
      const opened = relay.relay.core.counters["sessions.opened"] ?? 0;
      const r = await connectWith(p, "/lumamesh.js", relay.rec);
      expect(r).toMatchObject({ ok: true });
      if (r.ok) expect(r.rtt).toBeGreaterThan(0);
      expect(relay.relay.core.counters["sessions.opened"]).toBe(opened + 1);
      const seen = halves(n);
      expect(seen.length).toBeGreaterThan(0);
      for (const [a, b] of seen) {
        expect(a).toMatch(/^[A-Za-z0-9+/]{32}$/);
        expect(b).toMatch(/^[A-Za-z0-9+/]{4}$/);
      }
      await p.close();
    });
  }

  test(`trial off: a page with the previous library (${PREVIOUS_LIBRARY}, USERNAME "R:R") connects to this relay and pings`, async () => {
    const p = await page("off");
    const n = usernames.length;
    const opened = relay.relay.core.counters["sessions.opened"] ?? 0;
    const r = await connectWith(p, "/previous.js", relay.rec);
    expect(r).toMatchObject({ ok: true });
    if (r.ok) expect(r.rtt).toBeGreaterThan(0);
    expect(relay.relay.core.counters["sessions.opened"]).toBe(opened + 1);
    const seen = halves(n);
    expect(seen.length).toBeGreaterThan(0);
    for (const [a, b] of seen) {
      expect(a).toMatch(/^[A-Za-z0-9+/]{32}$/);
      expect(b).toBe(a);
    }
    await p.close();
  });
});
