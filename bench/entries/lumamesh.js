// "Join a room and send a message" with Lumamesh. Bundled by bench/size.ts; the join and
// throughput sections load this same bundle into the pages. cfg: { relays, room, RTCPeerConnection? }.
import { connect } from "../../src/index.ts";

let net;
export async function demo(cfg, onMessage) {
  net ??= await connect({ relays: cfg.relays, RTCPeerConnection: cfg.RTCPeerConnection });
  const room = await net.joinRoom(cfg.room);
  room.on("peer", (peer) => peer.send("hello"));
  room.on("message", (data) => onMessage(data));
  return { send: (data) => room.peers[0].send(data), leave: () => room.leave() };
}
/** Open the relay link ahead of time, so that a timed demo() measures joinRoom alone. */
export const warm = async (cfg) => void (net ??= await connect({ relays: cfg.relays, RTCPeerConnection: cfg.RTCPeerConnection }));
