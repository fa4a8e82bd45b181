// "Join a room and send a message" with Trystero's torrent strategy. cfg: { appId, urls, room, rtcConfig, RTCPeerConnection? }.
import { joinRoom, selfId } from "@trystero-p2p/torrent";

export function demo(cfg, onMessage) {
  const room = joinRoom(
    { appId: cfg.appId, relayConfig: { urls: cfg.urls }, rtcConfig: cfg.rtcConfig, rtcPolyfill: cfg.RTCPeerConnection },
    cfg.room,
  );
  const msg = room.makeAction("msg");
  msg.onMessage = (data) => onMessage(data);
  room.onPeerJoin = (id) => void msg.send("hello", id);
  return { send: (data) => msg.send(data), leave: () => room.leave() };
}
/** Open the signaling socket ahead of time (a room of its own that stays joined). */
export const warm = (cfg) => void demo({ ...cfg, room: "warm-" + Math.random() }, () => {});
export { selfId };
