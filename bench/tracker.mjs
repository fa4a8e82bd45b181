// A WebTorrent tracker (bittorrent-tracker's Server, WebSocket only) on loopback, for the join
// benchmark. Runs under Node. Prints {"port":N} on stdout when listening.
import { Server } from "bittorrent-tracker";

const server = new Server({ udp: false, http: false, ws: true, stats: false, trustProxy: false });
server.on("error", (e) => console.error("tracker error", e.message));
server.on("warning", (e) => console.error("tracker warning", e.message));
server.listen(0, "127.0.0.1", () => console.log(JSON.stringify({ port: server.ws.address().port })));
