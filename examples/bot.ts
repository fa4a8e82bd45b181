#!/usr/bin/env bun
// A bot in a Lumamesh room, run by Bun (or Node): it links to a relay and meets the room's browsers
// directly, like any page, through node-datachannel's RTCPeerConnection (examples/node-peer.ts; docs/node.md).
// It answers every message with "echo: …" (never an echo: two bots do not talk for ever); one line
// per event on stdout.
//
//   npx bun examples/bot.ts --relay ADDR,FP [--relay …] [--room lumamesh-chat] [--nick bot] [--identity DIR]
//   npx bun examples/bot.ts --ord http://127.0.0.1:8080        (the relays of that ord server's bootstrap config)
//
// ADDR,FP: a relay's "addr" and "fp", as `npm start` prints them. The default room is the chat
// example's, so the bot answers in `npm start`'s chat page. --identity DIR keeps the bot's
// certificate (and so its peer id) in DIR (cert.pem, key.pem) across restarts: keep key.pem private.
import { parseArgs } from "node:util";
import { connect } from "../src/index.ts"; // in your own project: from "lumamesh"
import { PeerConnection, keptCertificate } from "./node-peer.ts";

const { values: a } = parseArgs({
  options: {
    relay: { type: "string", multiple: true },
    ord: { type: "string", multiple: true },
    room: { type: "string", default: "lumamesh-chat" },
    nick: { type: "string", default: "bot" },
    password: { type: "string" },
    identity: { type: "string" },
  },
});
const relays = (a.relay ?? []).map((r) => {
  const [addr, fp] = r.split(",");
  return { addr: addr!, fp: fp! };
});
if (!relays.length && !a.ord) {
  console.error("usage: bot.ts --relay ADDR,FP | --ord URL [--room NAME] [--nick NAME] [--password P] [--identity DIR]");
  process.exit(2);
}

// Without --identity the library makes a new certificate (RTCPeerConnection.generateCertificate):
// a new peer id every run. With it, the same certificate, so the same peer id, every run.
const certificates = a.identity ? [keptCertificate(a.identity) as unknown as RTCCertificate] : undefined;
const net = await connect({ RTCPeerConnection: PeerConnection, certificates, ...(relays.length ? { relays } : { ord: a.ord }) });
const say = (...w: unknown[]) => console.log(w.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(" "));
say("id", net.id, "relay", net.relay?.addr);
const room = await net.joinRoom(a.room!, { nick: a.nick, password: a.password });
say("joined", a.room);
room.on("peer", (p) => {
  say("peer", p.id, p.nick, p.path);
  p.on("path", (path) => say("path", p.id, path));
});
room.on("leave", (p) => say("leave", p.id));
room.on("message", (data, p) => {
  say("message", p.id, JSON.stringify(data));
  if (typeof data === "string" ? !data.startsWith("echo: ") : !(data && typeof data === "object" && "echo" in data))
    p.send(typeof data === "string" ? "echo: " + data : { echo: data }).catch((e) => say("error", "send", e.message));
});
room.on("error", (e) => say("error", e.code, e.message));
net.on("disconnect", (why) => say("disconnect", why));
net.on("reconnect", (r) => say("reconnect", r.addr));

// Say goodbye (the peers see `leave` at once), then stop.
for (const sig of ["SIGINT", "SIGTERM"] as const)
  process.on(sig, () => {
    net.close();
    setTimeout(() => process.exit(0), 200);
  });
