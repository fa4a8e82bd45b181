// js-libp2p WebRTC Direct listener for the side-by-side rows (bench/libp2p.ts): a libp2p node with
// @libp2p/webrtc's webRTCDirect transport (node-datachannel underneath) listening on loopback UDP.
// Runs under Node (libp2p 3.x wants Promise.withResolvers, which Node 20 lacks: shimmed below).
// Prints {"addr": "<multiaddr with certhash and peer id>", "pid": N} on its first stdout line, then
// answers JSON lines on stdin: {"cmd":"conns"} → {"conns": n}; {"cmd":"gc"} → a full GC (run with
// node --expose-gc) → {"gc": true}; {"cmd":"close"} → exits.
// iceServers is empty: it contacts nothing but the dialers that reach it.
if (!Promise.withResolvers) {
  Promise.withResolvers = function () {
    let resolve, reject;
    const promise = new this((a, b) => ((resolve = a), (reject = b)));
    return { promise, resolve, reject };
  };
}
const { createLibp2p } = await import("libp2p");
const { webRTCDirect } = await import("@libp2p/webrtc");
const { noise } = await import("@libp2p/noise");

const node = await createLibp2p({
  addresses: { listen: ["/ip4/127.0.0.1/udp/0/webrtc-direct"] },
  transports: [webRTCDirect({ rtcConfiguration: { iceServers: [] } })],
  connectionEncrypters: [noise()],
  connectionGater: { denyDialMultiaddr: () => false },
  connectionManager: { maxConnections: 100000, inboundConnectionThreshold: 100000, maxIncomingPendingConnections: 100000 },
});
await node.start();
const addr = node
  .getMultiaddrs()
  .map(String)
  .find((a) => a.includes("/certhash/"));
process.stdout.write(JSON.stringify({ addr, pid: process.pid }) + "\n");
let buf = "";
process.stdin.on("data", async (c) => {
  buf += c;
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    if (m.cmd === "conns") process.stdout.write(JSON.stringify({ conns: node.getConnections().length }) + "\n");
    else if (m.cmd === "gc") {
      globalThis.gc?.();
      process.stdout.write(JSON.stringify({ gc: !!globalThis.gc }) + "\n");
    } else if (m.cmd === "close") {
      await node.stop().catch(() => {});
      process.exit(0);
    }
  }
});
