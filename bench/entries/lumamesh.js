// "Join a room and send a message" with Lumamesh. Bundled by bench/size.ts; the join and
// throughput sections load this same bundle into the pages. cfg: { relays, room, RTCPeerConnection? }.
import { connect } from "../../src/index.ts";

let net;
/** This page's peer id once connected (the bench splits join times by which id sorts higher). */
export let selfId;
export async function demo(cfg, onMessage) {
  await warm(cfg);
  const room = await net.joinRoom(cfg.room);
  room.on("peer", (peer) => peer.send("hello"));
  room.on("message", (data) => onMessage(data));
  return { send: (data) => room.peers[0].send(data), leave: () => room.leave() };
}
/** Open the relay link ahead of time, so that a timed demo() measures joinRoom alone. */
export async function warm(cfg) {
  net ??= await connect({ relays: cfg.relays, RTCPeerConnection: cfg.RTCPeerConnection });
  selfId = net.id;
}
