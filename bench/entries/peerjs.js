// "Join a room and send a message" with PeerJS: it has no rooms, so the page dials a peer id it
// was given (what an app does after its own matchmaking). Size only: needs a PeerServer.
import { Peer } from "peerjs";

export function demo(cfg, onMessage) {
  const peer = new Peer(cfg.id, { host: cfg.host, port: cfg.port, path: cfg.path, config: { iceServers: cfg.iceServers } });
  const use = (conn) => {
    conn.on("open", () => conn.send("hello"));
    conn.on("data", (data) => onMessage(data));
  };
  peer.on("connection", use);
  if (cfg.dial) peer.on("open", () => use(peer.connect(cfg.dial)));
  return peer;
}
