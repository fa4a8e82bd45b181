// js-libp2p WebRTC Direct dialer, bundled for the browser by bench/libp2p.ts (esbuild, platform
// browser): the page's side of the side-by-side rows. `start()` makes one libp2p node per page (no
// listen addresses, WebRTC Direct only, no STUN servers); `open(addr)` dials the listener and resolves
// with the ms until the connection is open (WebRTC + the Noise handshake inside it); `closeAll()` hangs up.
import { createLibp2p, type Libp2p } from "libp2p";
import { webRTCDirect } from "@libp2p/webrtc";
import { noise } from "@libp2p/noise";
import { multiaddr } from "@multiformats/multiaddr";

let node: Libp2p | undefined;
const held: { close(): Promise<void> }[] = [];

export async function start() {
  node ??= await createLibp2p({
    transports: [webRTCDirect({ rtcConfiguration: { iceServers: [] } })],
    connectionEncrypters: [noise()],
    connectionGater: { denyDialMultiaddr: () => false },
    connectionManager: { maxConnections: 100000 },
  });
}

/** Dial; `keep` holds the connection open, else it is closed after timing. */
export async function open(addr: string, keep = false): Promise<number> {
  await start();
  const t0 = performance.now();
  // force: a new connection each time, never the one already open to that peer.
  const c = await node!.dial(multiaddr(addr), { force: true } as any);
  const ms = performance.now() - t0;
  if (keep) held.push(c);
  else await c.close();
  return ms;
}

export async function closeAll() {
  await Promise.all(held.splice(0).map((c) => c.close().catch(() => {})));
}
