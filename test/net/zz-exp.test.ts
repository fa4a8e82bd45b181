import { test, expect } from "bun:test";
import { createTestNet } from "./netns.ts";
import { launchIn, libraryRoutes } from "./browsers.ts";
import { startRelayProc } from "../helpers/relay.ts";
const JOIN = (rec: any, nick: string) => `(async () => { try { const g = globalThis; const { connect } = await import("/lumamesh.js"); g.net = await connect({ relays: [${JSON.stringify(rec)}] }); g.msgs = []; g.peers = []; g.room = await g.net.joinRoom("ffcr", { nick: "${nick}" }); g.room.on("peer", p => { g.peers.push({ id: p.id, path: p.path, nick: p.nick }); p.send("hi from ${nick}"); }); g.room.on("message", (d, p) => g.msgs.push(d)); return g.net.id; } catch (e) { return String(e) } })()`;
test("ff+cr", async () => {
  const net = await createTestNet();
  try {
    const rh = await net.publicHost("relay");
    const relay = await startRelayProc({ netns: rh.ns, host: rh.ip });
    const rec = { addr: relay.record.addr, fp: relay.record.fp };
    const pages = [];
    for (const kind of ["firefox", "chromium"] as const) {
      const h = await net.publicHost(kind);
      const site = await h.serve(await libraryRoutes());
      const b = await launchIn(h, kind);
      await b.goto(site.url + "/");
      console.log(kind, await b.evaluate(JOIN(rec, kind)));
      pages.push(b);
    }
    await Bun.sleep(6000);
    for (const b of pages) console.log(await b.evaluate(`({ peers, msgs, pcs: 0 })`), b.logs());
    for (const b of pages) await b.close();
    await relay.stop();
  } finally { await net.destroy(); }
}, 60000);
