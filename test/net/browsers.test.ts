// Real Chromium and Firefox inside test namespaces: each loads a page served inside its own
// namespace, imports the library, has crypto.subtle, gathers ICE host candidates with exactly the
// namespace's address (and nothing of the root namespace), Chromium with the field trial that
// refuses a changed ice-ufrag, and behind a NAT cannot reach the other NAT's LAN while the public
// segment works. Fails (never skips) when a browser or root is missing.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { BROWSERS, launchIn, libraryRoutes, type NetBrowser } from "./browsers.ts";
// Explicit timeouts: bun 1.4.5 ignores bunfig.toml's [test] timeout, and the default is 5 s.
import { createTestNet, type NatRouter, type NetHost, type Served, type TestNet } from "./netns.ts";

/** Gathers for up to 5 s (until end-of-candidates) and returns the candidate lines. */
const GATHER = `(async () => {
  const pc = new RTCPeerConnection();
  pc.createDataChannel("probe");
  const cands = [];
  const done = new Promise((resolve) => {
    pc.onicecandidate = (e) => (e.candidate && e.candidate.candidate ? cands.push(e.candidate.candidate) : resolve());
    setTimeout(resolve, 5000);
  });
  await pc.setLocalDescription(await pc.createOffer());
  await done;
  pc.close();
  return cands;
})()`;

/** The first handshake's offer edit (ufrag and pwd replaced): "accepted", or the error's name and message. */
const MUNGE = `(async () => {
  const pc = new RTCPeerConnection();
  pc.createDataChannel("probe");
  const offer = await pc.createOffer();
  const u = "A".repeat(32);
  const sdp = offer.sdp.replace(/^a=ice-ufrag:.*$/m, "a=ice-ufrag:" + u).replace(/^a=ice-pwd:.*$/m, "a=ice-pwd:" + u);
  try { await pc.setLocalDescription({ type: "offer", sdp }); return "accepted"; }
  catch (e) { return e.name + ": " + e.message; }
  finally { pc.close(); }
})()`;

/** `fetch(url)` from the page with a deadline: "ok <body>" or "error <name>". */
const fetchFrom = (url: string, ms: number) => `fetch(${JSON.stringify(url)}, { signal: AbortSignal.timeout(${ms}) })
  .then(async (r) => "ok " + (await r.text()), (e) => "error " + e.name)`;

/** Address of a candidate line: `candidate:<foundation> <component> <proto> <prio> <address> <port> typ <type> …`. */
const candidateAddress = (c: string) => c.split(" ")[4];
const candidateType = (c: string) => / typ (\w+)/.exec(c)?.[1];

describe("browsers inside namespaces", () => {
  let net: TestNet;
  let home1: NatRouter, home2: NatRouter;
  let behind: NetHost, otherLan: Served, publicWeb: Served;
  const rootServer = Bun.serve({ hostname: "127.0.0.1", port: 0, fetch: () => new Response("root namespace") });

  beforeAll(async () => {
    net = await createTestNet();
    const web = await net.publicHost("web");
    home1 = await net.natRouter("home1", "cone");
    home2 = await net.natRouter("home2", "symmetric");
    behind = await home1.host("a");
    const b = await home2.host("b");
    publicWeb = await web.serve({ "/x": { body: "public", type: "text/plain" } }, { hostname: "0.0.0.0" });
    otherLan = await b.serve({ "/x": { body: "private", type: "text/plain" } }, { hostname: "0.0.0.0" });
  }, 15_000);
  afterAll(async () => {
    await net?.destroy();
    rootServer.stop(true);
    expect((await Bun.$`ip netns list`.text()).split("\n").filter((l) => l.startsWith(net.prefix + "-"))).toEqual([]);
  });

  for (const kind of BROWSERS) {
    test(`${kind} on the public segment: page served in its namespace, library, crypto.subtle, host candidates with its address`, async () => {
      const host = await net.publicHost(`pub${kind.slice(0, 3)}`);
      const site = await host.serve(await libraryRoutes());
      const t0 = performance.now();
      const browser: NetBrowser = await launchIn(host, kind);
      console.log(`${kind}: launched in ${host.ns} in ${Math.round(performance.now() - t0)} ms`);
      try {
        await browser.goto(site.url + "/");
        expect(await browser.evaluate("isSecureContext && typeof crypto.subtle.digest")).toBe("function");
        expect(await browser.evaluate("import('/lumamesh.js').then((m) => typeof m.connect)")).toBe("function");
        expect(browser.logs().filter((l) => l.startsWith("pageerror"))).toEqual([]);
        // The loopback the page sees is the namespace's: the root namespace's server is not there.
        expect(await browser.evaluate(fetchFrom(`http://127.0.0.1:${rootServer.port}/`, 3000))).toStartWith("error");
        const cands = await browser.evaluate<string[]>(GATHER);
        const hosts = cands.filter((c) => candidateType(c) === "host");
        expect(hosts.length).toBeGreaterThan(0);
        expect(hosts.some((c) => c.includes(` ${host.ip} `) && / udp /i.test(c))).toBe(true);
        expect([...new Set(hosts.map(candidateAddress))]).toEqual([host.ip]);
        // Chromium runs as the Chrome that is coming (test/helpers/browser.ts: the field trial got
        // through the namespace wrapper): it refuses a changed ice-ufrag.
        if (kind === "chromium") expect(await browser.evaluate<string>(MUNGE)).toContain("InvalidModificationError");
      } finally {
        await browser.close();
      }
    }, 90_000);
  }

  for (const kind of BROWSERS) {
    test(`${kind} behind a NAT: reaches the public segment, not the other NAT's LAN; candidates hold its private address`, async () => {
      const site = await behind.serve(await libraryRoutes());
      const browser = await launchIn(behind, kind);
      try {
        await browser.goto(site.url + "/");
        // The control: the same page reaches a server on the public segment through the NAT.
        expect(await browser.evaluate(fetchFrom(publicWeb.url + "/x", 15000))).toBe("ok public");
        // The other LAN: a LAN round trip takes under a millisecond, so 1.5 s is plenty for success.
        expect(await browser.evaluate(fetchFrom(otherLan.url + "/x", 1500))).toStartWith("error");
        const hosts = (await browser.evaluate<string[]>(GATHER)).filter((c) => candidateType(c) === "host");
        expect([...new Set(hosts.map(candidateAddress))]).toEqual([behind.ip]);
      } finally {
        await browser.close();
      }
    }, 90_000);
  }
});
