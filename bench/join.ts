// Join and throughput sections: two headless Chromium pages (one browser), each library loaded
// from the bundle bench/size.ts measures.
//  - join: time from the second page's demo() (joinRoom) to the first application message received
//    on each side. cold: both pages reloaded for every run, the clock includes opening the
//    signaling link (Lumamesh: connect(); Trystero: its WebSocket). warm: pages loaded once with
//    the link open (Lumamesh: connect(); Trystero: a room of its own on the same socket).
//  - throughput: 32 MB as 64 KB messages from one page to the other over the direct channel.
// Lumamesh meets at its relay (startRelayProc); Trystero-nostr at our NIP-01 relay
// (bench/nostr-relay.ts); Trystero-torrent at bittorrent-tracker's WebSocket tracker. All on
// 127.0.0.1. Every library gets the same ICE servers: only the Lumamesh relay's plain STUN
// responder on loopback. Every page's RTCPeerConnection is wrapped to rewrite remote mDNS (.local)
// host candidates to 127.0.0.1 (as Trystero's own tests do), so Chromium never sends an mDNS
// query and peers pair on loopback. Every HTTP and WebSocket request the pages make is recorded and must be to 127.0.0.1.
import { launchChromium } from "../test/helpers/browser.ts";
import { startRelayProc } from "../test/helpers/relay.ts";
import { bundleEntry, ENTRIES, type EntryName } from "./size.ts";
import { startNostr, startTracker } from "./procs.ts";
import { libVersion, median, pct, type Row } from "./util.ts";
import type { Browser, Page } from "playwright-core";

const LIBS = ["lumamesh", "trystero-nostr", "trystero-torrent"] as const;
type Lib = (typeof LIBS)[number];
const RUN_TIMEOUT_MS = 15_000;

const INIT = `(() => {
  const PC = globalThis.RTCPeerConnection;
  // Remote mDNS host candidates (<uuid>.local) become 127.0.0.1 on the same port: Chromium never
  // resolves a .local name (no multicast query), and peers pair on loopback.
  const toLoopback = (s) => s.replace(/ [0-9a-f-]+\\.local (\\d+) typ host/g, " 127.0.0.1 $1 typ host");
  class LoopbackPC extends PC {
    addIceCandidate(c, ...rest) {
      if (c && typeof c.candidate == "string" && c.candidate.includes(".local ")) c = { candidate: toLoopback(c.candidate), sdpMid: c.sdpMid, sdpMLineIndex: c.sdpMLineIndex, usernameFragment: c.usernameFragment };
      return super.addIceCandidate(c, ...rest);
    }
    setRemoteDescription(d, ...rest) {
      return super.setRemoteDescription(d && d.sdp ? { type: d.type, sdp: toLoopback(d.sdp) } : d, ...rest);
    }
  }
  globalThis.LoopbackPC = LoopbackPC;
  globalThis.now = () => performance.timeOrigin + performance.now();
})();`;

interface Env {
  browser: Browser;
  url: string;
  cfg: Record<Lib, any>;
  requests: string[];
  stop(): Promise<void>;
}

async function setup(): Promise<Env> {
  const relay = await startRelayProc({ args: ["--log-level", "info"] });
  const nostr = await startNostr();
  const tracker = await startTracker();
  const bundles: Record<string, Uint8Array> = {};
  for (const l of LIBS) bundles[l] = await bundleEntry(l as EntryName);
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname.slice(1);
      if (path.endsWith(".js") && bundles[path.slice(0, -3)])
        return new Response(bundles[path.slice(0, -3)] as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } });
      return new Response("<!doctype html><meta charset=utf-8><title>bench</title>", { headers: { "content-type": "text/html" } });
    },
  });
  const stunOnly = { iceServers: [{ urls: `stun:${relay.record.addr}` }] };
  const cfg: Record<Lib, any> = {
    lumamesh: { relays: [{ addr: relay.record.addr, fp: relay.record.fp }] },
    "trystero-nostr": { appId: "lumamesh-bench", urls: [`ws://127.0.0.1:${nostr.port}`], rtcConfig: stunOnly },
    "trystero-torrent": { appId: "lumamesh-bench", urls: [`ws://127.0.0.1:${tracker.port}`], rtcConfig: stunOnly },
  };
  const browser = await launchChromium();
  const requests: string[] = [];
  return {
    browser,
    url: `http://127.0.0.1:${server.port}/`,
    cfg,
    requests,
    async stop() {
      await browser.close();
      server.stop(true);
      await Promise.all([relay.stop(), nostr.stop(), tracker.stop()]);
    },
  };
}

/** A page in a browser context of its own (no cache, no storage, no state left by earlier runs). */
async function newPage(env: Env): Promise<Page> {
  const p = await (await env.browser.newContext()).newPage();
  await p.addInitScript(INIT);
  p.on("request", (r) => env.requests.push(r.url()));
  p.on("websocket", (w) => env.requests.push(w.url()));
  return p;
}

/** Both pages fresh and the library loaded; with `warm`, the signaling link is open too. */
async function load(env: Env, pages: Page[], lib: Lib, warm: boolean) {
  await Promise.all(
    pages.map(async (p) => {
      await p.goto(env.url);
      await p.evaluate(
        async ({ lib, cfg, warm }) => {
          const g = globalThis as any;
          g.M = await import(`/${lib}.js`);
          g.cfg = { ...cfg, RTCPeerConnection: g.LoopbackPC };
          g.first = new Promise((r) => (g.gotFirst = r));
          g.got = 0;
          if (warm) await g.M.warm(g.cfg);
        },
        { lib, cfg: env.cfg[lib], warm },
      );
    }),
  );
  await Bun.sleep(150); // let the warm-up subscriptions settle before the clock starts
}

const onMsg = `(d) => { const g = globalThis; g.gotFirst(now()); if (typeof d != "string") g.got += d.byteLength ?? d.length; }`;

/** One measured join: page A is in the room, page B joins; returns ms to first message on each side. */
async function joinOnce(a: Page, b: Page, room: string) {
  for (const p of [a, b])
    await p.evaluate(() => {
      const g = globalThis as any;
      g.room?.leave();
      g.room = null;
      g.first = new Promise((r) => (g.gotFirst = r));
      g.got = 0;
    });
  await a.evaluate(
    async ({ room, onMsg }) => {
      const g = globalThis as any;
      g.room = await g.M.demo({ ...g.cfg, room }, (0, eval)(onMsg));
    },
    { room, onMsg },
  );
  await Bun.sleep(200); // A's subscription/announce reaches its relay or tracker
  const t0 = await b.evaluate(
    async ({ room, onMsg }) => {
      const g = globalThis as any;
      const t0 = now();
      g.room = await g.M.demo({ ...g.cfg, room }, (0, eval)(onMsg));
      return t0;
    },
    { room, onMsg },
  );
  const wait = (p: Page) =>
    p.evaluate(
      (ms) => Promise.race([(globalThis as any).first, new Promise((r) => setTimeout(() => r(NaN), ms))]),
      RUN_TIMEOUT_MS,
    ) as Promise<number>;
  const [ta, tb] = await Promise.all([wait(a), wait(b)]);
  const ids = await Promise.all([a, b].map((p) => p.evaluate(() => (globalThis as any).M.selfId as string | undefined)));
  return { joiner: tb - t0, member: ta - t0, joinerHigh: ids[0] && ids[1] ? ids[1] > ids[0] : undefined };
}

declare function now(): number;

function checkLoopback(env: Env) {
  const bad = env.requests.filter((u) => new URL(u).hostname !== "127.0.0.1");
  if (bad.length) throw new Error(`bench: pages contacted non-loopback hosts: ${[...new Set(bad)].join(", ")}`);
  return `${env.requests.length} page requests, all to 127.0.0.1`;
}

export async function benchJoin(o: { runs?: number } = {}): Promise<Row[]> {
  const runs = o.runs ?? 20;
  const env = await setup();
  const rows: Row[] = [];
  const res: Record<
    string,
    {
      joiner: number[];
      member: number[];
      high: { joiner: number[]; member: number[] };
      low: { joiner: number[]; member: number[] };
      fails: number;
    }
  > = {};
  try {
    let a = await newPage(env),
      b = await newPage(env);
    for (const mode of ["cold", "warm"] as const)
      for (const lib of LIBS) {
        const r = (res[mode + lib] = {
          joiner: [] as number[],
          member: [] as number[],
          high: { joiner: [] as number[], member: [] as number[] },
          low: { joiner: [] as number[], member: [] as number[] },
          fails: 0,
        });
        // cold: both pages in fresh browser contexts for every run, the clock includes opening the signaling link;
        // warm: pages loaded once with the link open, a new room every run.
        if (mode === "warm") await load(env, [a, b], lib, true);
        for (let i = 0; i <= runs; i++) {
          if (mode === "cold") {
            // Fresh browser contexts every run, as a first visit: nothing cached, nothing stored.
            await Promise.all([a, b].map((p) => p.context().close()));
            [a, b] = [await newPage(env), await newPage(env)];
            await load(env, [a, b], lib, false);
          }
          const t = await joinOnce(a, b, `bench-${lib}-${i}-${crypto.randomUUID()}`);
          if (i === 0) continue; // warm-up (JIT, relay and tracker code paths)
          if (!Number.isFinite(t.joiner) || !Number.isFinite(t.member)) {
            r.fails++;
            continue;
          }
          r.joiner.push(t.joiner), r.member.push(t.member);
          if (t.joinerHigh !== undefined) {
            const g = t.joinerHigh ? r.high : r.low;
            g.joiner.push(t.joiner), g.member.push(t.member);
          }
        }
        console.error(
          `join ${mode} ${lib}: joiner ${r.joiner.map((x) => x.toFixed(0)).join(" ")}; member ${r.member.map((x) => x.toFixed(0)).join(" ")}`,
        );
      }
    const net = checkLoopback(env);
    for (const mode of ["cold", "warm"] as const) {
      const ours = res[mode + "lumamesh"];
      const fmt = (xs: number[]) => (xs.length ? `${median(xs).toFixed(0)} / ${pct(xs, 95).toFixed(0)}` : "n/a");
      const ratio = (xs: number[], side: "joiner" | "member") =>
        xs.length ? `ours/theirs ${(median(ours[side]) / median(xs)).toFixed(2)}` : "";
      const what = mode === "cold" ? "fresh browser contexts, link opened inside the clock" : "pages kept, link already open";
      for (const lib of LIBS) {
        const r = res[mode + lib];
        const name = libVersion(ENTRIES[lib].lib) + (lib.startsWith("trystero") ? ` (${lib.slice(9)})` : "");
        const n = `n=${r.joiner.length}${r.fails ? `, ${r.fails} timed out at ${RUN_TIMEOUT_MS / 1000} s` : ""}`;
        for (const side of ["joiner", "member"] as const)
          rows.push({
            section: "join",
            metric: `${mode}: joinRoom → first message, ${side === "joiner" ? "joining page" : "page already in"} (ms median / p95, ${n}; ${what})`,
            library: name,
            value: fmt(r[side]),
            ratio: lib === "lumamesh" ? "1 (ours)" : ratio(r[side], side),
          });
        if (mode === "cold")
          for (const [k, g] of [
            ["sorts high", r.high],
            ["sorts low", r.low],
          ] as const)
            if (g.joiner.length)
              rows.push({
                section: "join",
                metric: `${mode}:   … joiner's peer id ${k} (joining page, ms median / p95, n=${g.joiner.length})`,
                library: name,
                value: fmt(g.joiner),
                ratio: lib === "lumamesh" ? "" : ratio(g.joiner, "joiner"),
              });
      }
    }
    rows.push({ section: "join", metric: "network check", library: "all", value: net, ratio: "" });
  } finally {
    await env.stop();
  }
  return rows;
}

export async function benchThroughput(o: { mb?: number } = {}): Promise<Row[]> {
  const mb = o.mb ?? 32;
  const env = await setup();
  const rows: Row[] = [];
  const speed: Record<string, number> = {};
  try {
    const a = await newPage(env),
      b = await newPage(env);
    for (const lib of ["lumamesh", "trystero-nostr"] as const) {
      let t: Awaited<ReturnType<typeof joinOnce>> | undefined;
      for (let i = 0; i < 3 && !(t && Number.isFinite(t.joiner) && Number.isFinite(t.member)); i++) {
        await load(env, [a, b], lib, true);
        t = await joinOnce(a, b, `bench-tp-${lib}-${crypto.randomUUID()}`);
      }
      if (!t || !Number.isFinite(t.joiner)) {
        rows.push({
          section: "throughput",
          metric: `direct channel, 64 KB messages, ${mb} MB (MB/s)`,
          library: libVersion(ENTRIES[lib].lib),
          value: "n/a (peers never met)",
          ratio: "",
        });
        continue;
      }
      // One unmeasured 8 MB transfer first: the first megabytes over a fresh connection are slower
      // for any sender (SCTP and JIT warm-up; measured here: raw dc.send 19 MB/s on the first 32 MB,
      // 32 MB/s after), and whichever library ran second would otherwise get a warmed-up browser.
      const transfer = async (mb: number) => {
        const total = mb * 1024 * 1024;
        const done = b.evaluate(
          ({ total, ms }) =>
            new Promise<number>((res) => {
              const g = globalThis as any;
              g.got = 0;
              const t = setInterval(() => g.got >= total && (clearInterval(t), res(now())), 2);
              setTimeout(() => (clearInterval(t), res(NaN)), ms);
            }),
          { total, ms: 120_000 },
        );
        const t0 = await a.evaluate(async (total) => {
          const g = globalThis as any;
          const msg = new Uint8Array(65536);
          const t0 = now();
          for (let s = 0; s < total; s += msg.length) await g.room.send(msg);
          return t0;
        }, total);
        return mb / (((await done) - t0) / 1000);
      };
      await transfer(8);
      speed[lib] = await transfer(mb);
    }
    checkLoopback(env);
    for (const [lib, v] of Object.entries(speed))
      rows.push({
        section: "throughput",
        metric: `direct channel, 64 KB messages, ${mb} MB after an 8 MB warm-up, one run (MB/s)`,
        library: libVersion(ENTRIES[lib as EntryName].lib),
        value: Number.isFinite(v) ? v.toFixed(1) : "n/a (timed out)",
        ratio: lib === "lumamesh" ? "1 (ours)" : `ours/theirs ${(speed.lumamesh / v).toFixed(2)}`,
      });
  } finally {
    await env.stop();
  }
  return rows;
}
