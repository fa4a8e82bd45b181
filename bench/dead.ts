// Connect past dead relays: 19 black holes (UDP sockets that read and never answer) listed before the
// one live relay, fresh browser contexts each round. This library (staggered, raced attempts) beside
// the previous one (test/helpers/browser.ts PREVIOUS_LIBRARY: one relay after another), both with a
// 2 s per-relay timeout so the sequential baseline finishes (with the default 10 s it takes 190 s).
// Median of alternating rounds, load average printed. This library runs in a Chromium with the
// NoSdpMangleUfrag trial, the previous one in a Chromium without it (it edits its offer).
import { createSocket, type Socket } from "node:dgram";
import { loadavg } from "node:os";
import { launchChromium, previousLibraryBytes, serveLibrary, PREVIOUS_LIBRARY } from "../test/helpers/browser.ts";
import { startInProcessRelay } from "../test/helpers/relay.ts";
import { median, type Row } from "./util.ts";

export async function benchDead(o: { rounds?: number } = {}): Promise<Row[]> {
  const rounds = o.rounds ?? 3;
  const holes: Socket[] = [];
  for (let i = 0; i < 19; i++) {
    const s = createSocket("udp4");
    s.on("message", () => {});
    await new Promise<void>((r) => s.bind(0, "127.0.0.1", () => r()));
    holes.push(s);
  }
  const { relay, rec } = await startInProcessRelay();
  const prev = await previousLibraryBytes();
  const srv = await serveLibrary({
    "/previous.js": () => new Response(prev as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } }),
  });
  // This library in the Chrome that is coming (the NoSdpMangleUfrag trial); the previous one munges
  // its offer, which that Chrome refuses, so it runs in one without the trial.
  const browsers: Record<string, Awaited<ReturnType<typeof launchChromium>>> = {
    "/lumamesh.js": await launchChromium(),
    "/previous.js": await launchChromium({ fieldTrials: false }),
  };
  const relays = [...holes.map((s) => ({ addr: `127.0.0.1:${s.address().port}`, fp: rec.fp })), rec];
  const times: Record<string, number[]> = { "/lumamesh.js": [], "/previous.js": [] };
  const load: number[] = [];
  try {
    for (let r = 0; r < rounds; r++)
      for (const lib of Object.keys(times)) {
        const ctx = await browsers[lib]!.newContext();
        const p = await ctx.newPage();
        await p.goto(srv.url);
        load.push(loadavg()[0]!);
        times[lib]!.push(
          await p.evaluate(
            async ({ lib, relays }) => {
              const { connect } = await import(lib);
              const t0 = performance.now();
              const net = await connect({ relays, timeout: 2000 });
              const ms = performance.now() - t0;
              net.close();
              return ms;
            },
            { lib, relays },
          ),
        );
        await ctx.close();
      }
  } finally {
    for (const b of Object.values(browsers)) await b.close();
    srv.stop();
    await relay.stop();
    for (const s of holes) s.close();
  }
  const now = median(times["/lumamesh.js"]!),
    before = median(times["/previous.js"]!);
  const metric = `connect() with 19 of 20 relays dead, the live one last (ms, median of ${rounds}; load ${median(load).toFixed(1)})`;
  return [
    { section: "dead", metric, library: "lumamesh (raced)", value: now.toFixed(0), ratio: (before / now).toFixed(1) + "× faster" },
    { section: "dead", metric, library: `lumamesh ${PREVIOUS_LIBRARY} (sequential, 2 s per relay)`, value: before.toFixed(0), ratio: "" },
  ];
}
