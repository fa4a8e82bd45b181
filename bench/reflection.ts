// Reflection and amplification of the relay's answers to unauthenticated input, measured on the
// wire: each input is sent from its own socket (in its own /24, so no reply budget is shared),
// and the bytes that socket gets back are counted; for gossip, the bytes that arrive at the
// addresses a RECORDS frame names. Part of the attack section (bench/attack.ts). Sans attacker
// process: the rates here are low on purpose (under every per-network reply budget).
import { createSocket, type Socket } from "node:dgram";
import { generateKeyPairSync, createPublicKey, randomBytes } from "node:crypto";
import { ATTR, CLASS, METHOD_BINDING, encodeStun, type StunAttr } from "../relay/stun.ts";
import { createClientSession, type Certificate, type ChannelSession } from "../relay/werift.ts";
import { signRecord } from "../relay/record.ts";
import { PROBE_COST } from "../relay/gossip.ts";
import { CHECK_SCHEDULE } from "../relay/client.ts";
import { T, decode, encode } from "../protocol/frames.ts";
import { clientHello, iceCheck, iceString } from "../test/helpers/attack.ts";

/** IPv4 (20) + UDP (8) header bytes per datagram: what a reflected flood costs on a real link. */
export const HEADERS = 28;

interface Counted {
  sock: Socket;
  tx: number;
  txN: number;
  rx: number;
  rxN: number;
}

function counted(addr: string, onMsg?: (m: Uint8Array) => void): Promise<Counted> {
  return new Promise((res) => {
    const c: Counted = { sock: createSocket("udp4"), tx: 0, txN: 0, rx: 0, rxN: 0 };
    c.sock.on("error", () => {});
    c.sock.on("message", (m) => {
      (c.rx += m.length), c.rxN++;
      onMsg?.(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    });
    c.sock.bind(0, addr, () => res(c));
  });
}
const send = (c: Counted, d: Uint8Array, port: number) => (c.sock.send(d, port, "127.0.0.1"), (c.tx += d.length), c.txN++);

const te = new TextEncoder();
const txid = () => randomBytes(12);
const req = (attrs: StunAttr[], key?: string, fingerprint = true) =>
  encodeStun(
    { method: METHOD_BINDING, cls: CLASS.REQUEST, txid: txid(), attrs },
    { integrityKey: key ? te.encode(key) : undefined, fingerprint },
  );
const user = (u: string): StunAttr => ({ type: ATTR.USERNAME, value: te.encode(`${u}:${u}`) });
const role = (type: number): StunAttr => ({ type, value: randomBytes(8) });
/** An attribute type in the comprehension-required range that nobody defines. */
const UNKNOWN = 0x7ffe;

/** A ClientHello first fragment of the fewest bytes the relay parses (36 body bytes of a longer message), with `cookie`. */
function shortHello(cookie = new Uint8Array(0)): Uint8Array {
  const body = Uint8Array.from([0xfe, 0xfd, ...randomBytes(32), 0, cookie.length, ...cookie]);
  const hs = Uint8Array.from([1, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, body.length, ...body]);
  return Uint8Array.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, hs.length, ...hs]);
}

/** Every unauthenticated input the relay answers (or used to): label, what it answers, a maker. */
export const INPUTS: { label: string; answer: string; note?: string; make: () => Uint8Array }[] = [
  { label: "plain STUN Binding, no attributes", answer: "success", make: () => req([], undefined, false) },
  {
    label: "ICE check, valid integrity, fewest bytes (USERNAME 22:22, ICE-CONTROLLING)",
    answer: "success",
    make: () => {
      const u = iceString(22);
      return req([user(u), role(ATTR.ICE_CONTROLLING)], u);
    },
  },
  {
    label: "ICE check, valid integrity, as a browser sends it (test/helpers/attack.ts iceCheck)",
    answer: "success",
    make: () => iceCheck(),
  },
  { label: "ICE check, bad integrity", answer: "401", make: () => req([user(iceString(22)), role(ATTR.ICE_CONTROLLING)], iceString(22)) },
  {
    label: "malformed USERNAME (empty), with integrity",
    answer: "401",
    make: () => req([{ type: ATTR.USERNAME, value: new Uint8Array(0) }], "x"),
  },
  {
    label: "USERNAME without MESSAGE-INTEGRITY",
    answer: "400",
    note: "was answered with a 48 B 400 (1.50×) before relay/stun.ts dropped error replies larger than their request",
    make: () => req([{ type: ATTR.USERNAME, value: new Uint8Array(0) }]),
  },
  {
    label: "unknown comprehension-required attribute, no USERNAME",
    answer: "420",
    note: "was answered with a 64 B 420 (2.67×) before relay/stun.ts dropped error replies larger than their request",
    make: () => req([{ type: UNKNOWN, value: new Uint8Array(0) }], undefined, false),
  },
  {
    label: "unknown comprehension-required attribute in a valid check",
    answer: "420",
    make: () => {
      const u = iceString(22);
      return req([user(u), { type: UNKNOWN, value: new Uint8Array(0) }], u);
    },
  },
  {
    label: "valid check with ICE-CONTROLLED (role conflict)",
    answer: "487",
    make: () => {
      const u = iceString(22);
      return req([user(u), role(ATTR.ICE_CONTROLLED)], u);
    },
  },
  {
    label: "valid check without a role attribute",
    answer: "400",
    make: () => {
      const u = iceString(22);
      return req([user(u)], u);
    },
  },
  {
    label: "cookieless ClientHello as a browser sends it (test/helpers/attack.ts clientHello)",
    answer: "HelloVerifyRequest",
    make: () => clientHello(randomBytes(32)),
  },
  {
    label: "shortest ClientHello the relay parses (first fragment, 36 body bytes)",
    answer: "HelloVerifyRequest",
    make: () => shortHello(),
  },
  { label: "shortest ClientHello with a wrong cookie", answer: "HelloVerifyRequest", make: () => shortHello(randomBytes(16)) },
  { label: "ClientHello cut before its cookie (35 body bytes)", answer: "-", make: () => shortHello().subarray(0, 60) },
];

export interface Reflection {
  label: string;
  answer: string;
  note?: string;
  req: number;
  reply: number;
  n: number;
  replies: number;
  tx: number;
  rx: number;
  txN: number;
  rxN: number;
}

/** Send each input `n` times (every 20 ms) from its own /24 (127.90.k.1) and count what comes back. */
export async function measureInputs(port: number, n = 20): Promise<Reflection[]> {
  const out: Reflection[] = [];
  for (const [k, inp] of INPUTS.entries()) {
    let reply = 0;
    const c = await counted(`127.90.${k}.1`, (m) => (reply = m.length));
    let reqLen = 0;
    for (let i = 0; i < n; i++) {
      const d = inp.make();
      reqLen = d.length;
      send(c, d, port);
      await Bun.sleep(20);
    }
    await Bun.sleep(500);
    c.sock.close();
    out.push({
      label: inp.label,
      answer: inp.answer,
      note: inp.note,
      req: reqLen,
      reply,
      n,
      replies: c.rxN,
      tx: c.tx,
      rx: c.rx,
      txN: c.txN,
      rxN: c.rxN,
    });
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Gossip: a relay-identity session (its first record is its own: this socket's address, this
// certificate) sends one RECORDS frame naming `n` relays at addresses that never answer (sinks
// that count what reaches them). The frame is padded to exactly n × PROBE_COST characters: the
// fewest bytes that buy n probes (relay/gossip.ts), an attacker's best ratio.

function ed25519() {
  const { privateKey } = generateKeyPairSync("ed25519");
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  return { key: privateKey, id: Buffer.from(spki.subarray(spki.length - 32)).toString("hex") };
}
const randomFp = () => Array.from(randomBytes(32), (b) => b.toString(16).padStart(2, "0").toUpperCase()).join(":");

/** A Layer-1 client like relay/client.ts, counting every byte it puts on the wire. */
async function dialCounted(
  port: number,
  fp: string,
  cert: Certificate,
): Promise<{ c: Counted; s: ChannelSession; selfProbes: () => number }> {
  let session: ChannelSession | undefined;
  let probes = 0;
  let welcome!: () => void, fail!: (e: Error) => void;
  const done = new Promise<void>((res, rej) => ((welcome = res), (fail = rej)));
  const u = iceString(32);
  const c = await counted("127.0.0.1", (b) => {
    if (b[0]! <= 3) {
      if (b[1] === 0x01 && b[0] === 0x00) return void probes++; // a request: the relay probing this address (its own record)
      if (session) return;
      session = createClientSession(cert, fp, {
        transmit: (d) => send(c, d, port),
        onOpen: () => session!.send(encode({ t: T.HELLO, min: 1, max: 1 })),
        onMessage: (m) => decode(m)?.t === T.WELCOME && welcome(),
        onClose: (why) => fail(new Error(why)),
      });
    } else if (b[0]! >= 20 && b[0]! <= 63) session?.receive(b);
  });
  send(c, req([user(u), role(ATTR.ICE_CONTROLLING), { type: ATTR.USE_CANDIDATE, value: new Uint8Array(0) }], u), port);
  await Promise.race([
    done,
    Bun.sleep(10000).then(() => {
      throw new Error("gossip: no WELCOME in 10 s");
    }),
  ]);
  return { c, s: session!, selfProbes: () => probes };
}

export interface GossipReflection {
  n: number;
  probeCost: number;
  frame: number;
  wire: number;
  wireN: number;
  sink: number;
  sinkN: number;
  selfProbes: number;
  handshake: number;
}

/** n = 7: with the sender's own record that is 8 probes, as many as relay/gossip.ts keeps in flight (MAX_INFLIGHT). */
export async function measureGossip(port: number, fp: string, cert: Certificate, n = 7): Promise<GossipReflection> {
  const { c, s, selfProbes } = await dialCounted(port, fp, cert);
  const handshake = c.tx;
  const me = ed25519();
  const self = signRecord(
    { lumamesh: 1, addr: `127.0.0.1:${c.sock.address().port}`, fp: cert.fingerprint, id: me.id, seq: Math.floor(Date.now() / 1000) },
    me.key,
  );
  const sinks: Counted[] = [];
  const recs = [self];
  for (let i = 0; i < n; i++) {
    const sink = await counted(`127.91.0.${i + 1}`);
    sinks.push(sink);
    const k = ed25519();
    recs.push(
      signRecord(
        {
          lumamesh: 1,
          addr: `127.91.0.${i + 1}:${sink.sock.address().port}`,
          fp: randomFp(),
          id: k.id,
          seq: Math.floor(Date.now() / 1000),
        },
        k.key,
      ),
    );
  }
  let json = JSON.stringify(recs);
  if (json.length < n * PROBE_COST) json = json.slice(0, -1) + " ".repeat(n * PROBE_COST - json.length) + "]";
  const tx0 = c.tx,
    txN0 = c.txN;
  s.send(encode({ t: T.RECORDS, json }));
  // Every probe's checks go out within the schedule; wait it out with margin.
  await Bun.sleep(CHECK_SCHEDULE.reduce((a, b) => a + b, 0) + 3000);
  const res = {
    n,
    probeCost: PROBE_COST,
    frame: json.length,
    wire: c.tx - tx0,
    wireN: c.txN - txN0,
    sink: sinks.reduce((a, x) => a + x.rx, 0),
    sinkN: sinks.reduce((a, x) => a + x.rxN, 0),
    selfProbes: selfProbes(),
    handshake,
  };
  s.close();
  await Bun.sleep(100);
  c.sock.close();
  for (const x of sinks) x.sock.close();
  return res;
}
