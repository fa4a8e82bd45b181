// "Join a room and send a message" with simple-peer: it brings no signaling, so the page relays
// offers, answers and candidates through a WebSocket of its own (the least an app must write).
import SimplePeer from "simple-peer";

export function demo(cfg, onMessage) {
  const ws = new WebSocket(cfg.url + "?room=" + encodeURIComponent(cfg.room));
  const peer = new SimplePeer({ initiator: cfg.initiator, config: { iceServers: cfg.iceServers } });
  peer.on("signal", (s) => ws.send(JSON.stringify(s)));
  ws.onmessage = (e) => peer.signal(JSON.parse(e.data));
  peer.on("connect", () => peer.send("hello"));
  peer.on("data", (data) => onMessage(data));
  return peer;
}
