// "Join a room and send a message" with P2PCF. Size only: needs its Cloudflare-worker signaling.
import P2PCF from "p2pcf";

export function demo(cfg, onMessage) {
  const p2pcf = new P2PCF(cfg.id, cfg.room, { workerUrl: cfg.workerUrl, stunIceServers: cfg.iceServers, turnIceServers: [] });
  p2pcf.on("peerconnect", (peer) => p2pcf.send(peer, new TextEncoder().encode("hello")));
  p2pcf.on("msg", (peer, data) => onMessage(data));
  p2pcf.start();
  return p2pcf;
}
