// Gossip at internet scale: 1,000 relays running the real gossip core (relay/gossip.ts) on a fake
// network and clock (test/helpers/gossip-sim.ts). Before simulating, the wire sizes the simulation
// charges are measured here on the real client and relay: a UDP proxy on loopback counts every
// datagram (IP and UDP headers included) of a Layer-1 handshake, a gossip link's keepalives, a
// RECORDS frame and a STUN Binding. Prints convergence in simulated seconds, bytes per relay per
// minute, and the most any relay kept against its bounds.
import { createSocket, type Socket } from "node:dgram";
import { startRelay } from "../relay/socket.ts";
import { generateCertificate } from "../relay/werift.ts";
import { createLogger } from "../relay/log.ts";
import { MAX_PROBE_BYTES, openRelayLink } from "../relay/client.ts";
import { encodeStun, CLASS, METHOD_BINDING } from "../relay/stun.ts";
import { T } from "../protocol/frames.ts";
import { simulate, type Costs } from "../test/helpers/gossip-sim.ts";
import type { Row } from "./util.ts";

const IP_UDP = 28;

/** Wire bytes of the real thing, through a counting UDP proxy between relay/client.ts and a relay. */
export async function measureCosts(o: { keepaliveMs?: number } = {}): Promise<Costs> {
  const cert = await generateCertificate();
  const relay = await startRelay({ host: "127.0.0.1", port: 0, cert, log: createLogger("silent") });
  const px: Socket = createSocket("udp4"),
    up: Socket = createSocket("udp4");
  let client: { address: string; port: number } | undefined;
  const n = { out: 0, in: 0, dOut: 0, dIn: 0 };
  px.on("message", (m, r) => ((client = r), (n.out += m.length + IP_UDP), n.dOut++, up.send(m, relay.port, "127.0.0.1")));
  up.on("message", (m) => ((n.in += m.length + IP_UDP), n.dIn++, client && px.send(m, client.port, client.address)));
  await new Promise<void>((r) => px.bind(0, "127.0.0.1", () => r()));
  await new Promise<void>((r) => up.bind(0, "127.0.0.1", () => r()));
  const at = { addr: `127.0.0.1:${px.address().port}`, fp: cert.fingerprint };
  const me = await generateCertificate();
  const snap = () => ({ ...n });
  try {
    // A handshake up to WELCOME and its close (no RECORDS: the relay has none to send), median of 5.
    const hs: { out: number; in: number }[] = [];
    for (let i = 0; i < 5; i++) {
      const a = snap();
      const l = await openRelayLink(at, me);
      l.close();
      await Bun.sleep(150);
      hs.push({ out: n.out - a.out, in: n.in - a.in });
    }
    const mid = (k: "out" | "in") => hs.map((h) => h[k]).sort((a, b) => a - b)[2]!;
    // A gossip link left alone (relay/peering.ts: consent checks and PINGs every 10 s each way).
    const l = await openRelayLink(at, me, { liveness: 10_000, consentMs: 10_000 });
    await Bun.sleep(5000);
    const ka = snap(),
      ms = o.keepaliveMs ?? 30_000;
    await Bun.sleep(ms);
    const kb = snap();
    // One RECORDS frame of 13,000 bytes (40 records' worth) and what comes back for it (SACKs).
    const f0 = snap();
    l.send({ t: T.RECORDS, json: JSON.stringify(["x".repeat(12_996)]) });
    await Bun.sleep(1000);
    const f1 = snap();
    l.close();
    await Bun.sleep(500);
    const datagrams = f1.dOut - f0.dOut;
    // A plain STUN Binding and the relay's answer.
    const b0 = snap();
    await new Promise<void>((res) => {
      const s = createSocket("udp4");
      s.on("message", () => (s.close(), res()));
      s.bind(0, "127.0.0.1", () =>
        s.send(
          encodeStun({ method: METHOD_BINDING, cls: CLASS.REQUEST, txid: crypto.getRandomValues(new Uint8Array(12)), attrs: [] }),
          px.address().port,
          "127.0.0.1",
        ),
      );
    });
    const b1 = snap();
    return {
      handshakeOut: mid("out"),
      handshakeIn: mid("in"),
      keepaliveOut: Math.round(((kb.out - ka.out) * 60_000) / ms),
      keepaliveIn: Math.round(((kb.in - ka.in) * 60_000) / ms),
      framePayload: Math.round(13_001 / datagrams),
      frameOverhead: Math.round((f1.out - f0.out - 13_001) / datagrams),
      sackBytes: Math.round((f1.in - f0.in) / datagrams),
      pingOut: b1.out - b0.out,
      pingIn: b1.in - b0.in,
      probeFail: MAX_PROBE_BYTES,
    };
  } finally {
    px.close();
    up.close();
    await relay.stop();
  }
}

export async function benchGossip(o: { relays?: number; seed?: number } = {}): Promise<Row[]> {
  const relays = o.relays ?? 1000;
  const costs = await measureCosts();
  const r = simulate({ relays, seed: o.seed ?? 1000, unreachable: 0.05, churn: 0.3, steadyMs: 5 * 60_000, checkMs: 10_000, costs });
  const s = (ms: number | null) => (ms === null ? "not within 60 min" : `${ms / 1000}`);
  const kb = (b: number) => `${(b / 1000).toFixed(1)} kB`;
  const row = (metric: string, value: string | number) => ({ section: "gossip", metric, library: "lumamesh", value, ratio: "" });
  const L = r.limits;
  return [
    row(
      `${relays} relays start within 60 s from 2 bootstrap relays (5 % behind NATs nobody can dial): every relay lists every reachable one (simulated s after the last start)`,
      s(r.cold.learned),
    ),
    row("… a page reading one relay's RECORDS knows them all (median over relays, s)", s(r.cold.pageMedian)),
    row("… bytes sent per relay per minute while starting", kb(r.cold.bytesPerRelayMin)),
    row(`steady (${r.steady.minutes} min, nothing changes): bytes sent per relay per minute`, kb(r.steady.bytesPerRelayMin)),
    row(
      "30 % churn within 60 s (a third of the leavers back at a new address; as many new relays): every relay lists every live one (s after the churn)",
      s(r.churn.learned),
    ),
    row(`… and none that left (s; pinged every ${L.pingMs / 60_000} min)`, s(r.churn.converged)),
    row("… a page reading one relay knows every live one (median over relays, s)", s(r.churn.pageMedian)),
    row("… bytes sent per relay per minute while churning", kb(r.churn.bytesPerRelayMin)),
    row(
      `most kept by any relay: records / waiting probes / probes in flight / links / inbound (bounds ${L.maxKnown} / ${L.maxPending} / ${L.maxInflight} / ${L.maxLinks}+${L.maxInflight} / ${L.maxInbound})`,
      `${r.max.known} / ${r.max.pending} / ${r.max.inflight} / ${r.max.links} / ${r.max.inbound}`,
    ),
    row(
      "confirmed reachable (reachable relays / relays behind NATs)",
      `${r.confirmed.reachable} of ${r.confirmed.of} / ${r.confirmed.unreachable} of ${r.confirmed.ofUnreachable}`,
    ),
    row(
      "whole run, bytes by purpose (all relays)",
      Object.entries(r.spent)
        .map(([k, v]) => `${k} ${(v / 1e6).toFixed(0)} MB`)
        .join(", "),
    ),
    row(
      "wire sizes measured here (handshake out/in, link keepalive per min out/in, frame payload/overhead/SACK per datagram, Binding out/in)",
      `${costs.handshakeOut}/${costs.handshakeIn} B, ${costs.keepaliveOut}/${costs.keepaliveIn} B, ${costs.framePayload}/${costs.frameOverhead}/${costs.sackBytes} B, ${costs.pingOut}/${costs.pingIn} B`,
    ),
    row("simulation: events, wall time", `${r.events}, ${(r.wallMs / 1000).toFixed(0)} s`),
  ];
}

if (import.meta.main) {
  const { table } = await import("./util.ts");
  console.log(table(await benchGossip({ relays: Number(process.argv[2] ?? 1000) })));
  process.exit(0);
}
