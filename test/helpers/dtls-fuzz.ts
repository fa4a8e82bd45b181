// Structure-aware mutation fuzzing of the relay's DTLS server handshake (relay/dtls-server.ts).
//
// Real handshakes are recorded first: werift's DtlsClient (relay/session.ts client sessions) against a
// ServerHandshake, for X25519 and P-256, with and without the extended master secret, the relay core's
// cookie exchange answered here. Then the client's datagrams (from the ClientHello with the cookie on)
// are replayed into fresh ServerHandshakes with mutations, at three levels:
//   messages  bytes, vector lengths (u8/u16/u24 inside ClientHello, Certificate, ClientKeyExchange,
//             CertificateVerify), types, message_seq, key shares (all-zero and low-order X25519 points,
//             P-256 points off the curve), signatures (wrong lengths, garbage), the Finished record;
//   records   refragmenting (overlapping, shuffled, duplicated fragments), duplicating, reordering,
//             dropping, header fields (record length, epoch, sequence number, handshake length,
//             fragment offset/length), injected alerts, ChangeCipherSpecs, junk and oversized
//             fragments, a second ClientHello with another random, epoch-1 garbage;
//   datagrams splitting, merging, truncating, timing (retransmissions 0-450 ms apart).
//
// A replay is deterministic because the handshake's own randomness is the recording's: the server
// random, the ServerKeyExchange signature (given back by io.sign) and the ephemeral key, set on the
// instance when it sends its ServerKeyExchange (the transcript's ServerKeyExchange then is the
// recorded one). These are private fields, reached by name: a rename there fails the clean replays.
//
// For every case: receive() never throws; what the handshake holds stays within its caps after every
// datagram; flight 4 and flight 6 are resent at most once per REPLAY_GAP_MS; at most one alert and
// nothing after it; and it completes only with the recorded keys and client certificate. A case whose
// client-signed or MACed bytes were changed (any message before CertificateVerify, CertificateVerify,
// the Finished record) or lost never completes; a case only reframed, duplicated or reordered, with
// ignorable records added, always does. Used by test/relay/dtls-fuzz.test.ts and bench/fuzz.ts --dtls.
import { createECDH, createHash, createPublicKey, diffieHellman, type KeyObject } from "node:crypto";
import { signerOf } from "../../relay/cert.ts";
import { keysFromBlock, sealRecord, type RecordKeys } from "../../relay/dtls-aead.ts";
import {
  DTLS_1_2,
  MAX_FRAGMENT_RANGES,
  MAX_HANDSHAKE_MESSAGE,
  findClientHello,
  handshakeRecord,
  helloStart,
  helloVerifyRequest,
} from "../../relay/dtls-records.ts";
import { REPLAY_GAP_MS, ServerHandshake, prf } from "../../relay/dtls-server.ts";
import { _internal, createClientSession, type ChannelSession } from "../../relay/werift.ts";
import { certs, until } from "./pipe.ts";
import { rng } from "./sctp-gen.ts";

export { rng };
type R = ReturnType<typeof rng>;

/** The ServerHandshake's fields this harness reads or sets (private in relay/dtls-server.ts). */
interface Priv {
  st: number;
  reasm: { pending: Map<number, { msgType: number; buf: Uint8Array; have: [number, number][] }> };
  ahead: Map<number, { type: number; body: Uint8Array }>;
  early?: Uint8Array;
  seen: Set<number>;
  transcript: Buffer[];
  flight4: Uint8Array[];
  flight6: Uint8Array[];
  next: number;
  serverRandom: Buffer;
  x25519Key?: KeyObject;
  p256?: ReturnType<typeof createECDH>;
  ourPublic?: Uint8Array;
}

/** Caps the handshake must keep (relay/dtls-server.ts MAX_AHEAD, relay/dtls-records.ts Reassembler). */
export const CAPS = {
  pending: 4,
  ahead: 4,
  /** disjoint byte ranges held for one message in reassembly */
  ranges: MAX_FRAGMENT_RANGES,
  /** CH + five of flight 4 + Certificate, ClientKeyExchange, CertificateVerify, Finished */
  transcript: 10,
  seen: 10,
  record: 13 + 0xffff,
};

export interface Recording {
  name: string;
  curve: 23 | 29;
  ems: boolean;
  /** client → server datagrams, from the ClientHello with the cookie to the Finished */
  datagrams: Uint8Array[];
  serverRandom: Buffer;
  skeSig: Uint8Array;
  /** the ServerKeyExchange as the transcript held it */
  skeMessage: Buffer;
  ourPublic: Uint8Array;
  x25519Key?: KeyObject;
  p256Private?: Buffer;
  keys: string;
  clientCert: Buffer;
  /** the relay's certificate and signer (the transcript holds its certificate) */
  certDer: Uint8Array;
  /** the server's certificate's DER (a valid certificate that is not the client's) */
  otherCert: Buffer;
  /** the transcript up to the client's flight 5: ClientHello and flight 4, as the server holds them */
  prefix: Buffer[];
}

const keysId = (k: RecordKeys) =>
  [k.algorithm, k.readKey.export(), k.writeKey.export(), k.readSalt, k.writeSalt]
    .map((x) => Buffer.from(x as Uint8Array).toString("hex"))
    .join(":");

const isSke = (r: Uint8Array) => r[0] === 22 && r[3] === 0 && r[4] === 0 && r[13] === 12;

/** One real handshake: werift's client against a ServerHandshake, recorded. */
export async function record(name: string, offers: { curves?: number[]; ems?: boolean }): Promise<Recording> {
  const { serverCert, clientCert } = await certs();
  const signer = signerOf(serverCert);
  const restore = _internal.clientOffers(offers);
  const datagrams: Uint8Array[] = [];
  const rec: Partial<Recording> = { name, ems: offers.ems !== false, certDer: signer.certDer, otherCert: Buffer.from(serverCert.certDer) };
  let client: ChannelSession | undefined;
  let failed: string | undefined;
  const hs = new ServerHandshake({
    certDer: signer.certDer,
    sign: (d, h) => (rec.skeSig = signer.sign(d, h)),
    send: (r) => {
      if (isSke(r)) {
        const p = hs as unknown as Priv;
        rec.serverRandom = Buffer.from(p.serverRandom);
        rec.skeMessage = Buffer.from(p.transcript.at(-1)!);
        rec.ourPublic = Uint8Array.from(p.ourPublic!);
        rec.x25519Key = p.x25519Key;
        rec.p256Private = p.p256?.getPrivateKey();
        rec.curve = p.p256 ? 23 : 29;
      }
      if (r[0] === 22 && r[4] === 0 && r[13] === 14) rec.prefix = (hs as unknown as Priv).transcript.map((m) => Buffer.from(m));
      const c = Uint8Array.from(r);
      setTimeout(() => client?.receive(c), 0);
    },
    drop() {},
    fail: (r) => void (failed = r),
    done: (k, der) => {
      rec.keys = keysId(k);
      rec.clientCert = Buffer.from(der);
    },
  });
  try {
    client = createClientSession(clientCert, serverCert.fingerprint, {
      transmit: (d) => {
        const c = d.slice();
        // The relay core's cookie exchange (relay/core.ts): a hello without a cookie gets a HelloVerifyRequest.
        const ch = findClientHello(c);
        if (ch && !ch.hello.cookie.length)
          return void setTimeout(() => client?.receive(helloVerifyRequest(ch.record.seq, new Uint8Array(32).fill(0xc0))), 0);
        if (rec.keys) return; // the handshake is done: what follows (SCTP) is not recorded
        datagrams.push(c);
        setTimeout(() => hs.receive(c, performance.now()), 0);
      },
      onOpen() {},
      onMessage() {},
      onClose() {},
    });
    await until(() => !!rec.keys || !!failed, 15000, `the ${name} handshake`);
  } finally {
    client?.close();
    restore();
  }
  if (failed) throw new Error(`recording ${name}: ${failed}`);
  rec.datagrams = datagrams;
  return rec as Recording;
}

export const OFFERS: [string, { curves?: number[]; ems?: boolean }][] = [
  ["x25519+ems", {}],
  ["x25519", { ems: false }],
  ["p256+ems", { curves: [23] }],
  ["p256", { curves: [23], ems: false }],
];

export async function recordAll(): Promise<Recording[]> {
  const out: Recording[] = [];
  for (const [n, o] of OFFERS) out.push(await record(n, o));
  return out;
}

// ---------------------------------------------------------------------------------------------
// Replay

export interface Delivery {
  d: Uint8Array;
  now: number;
}

export type Result = "completed" | "failed-alert" | "failed-peer-alert" | "stalled";

export interface Outcome {
  result: Result;
  fail?: string;
  drops: Record<string, number>;
  /** every record sent, with the time of the delivery that made it */
  sent: { now: number; rec: Uint8Array }[];
  violations: string[];
  ms: number;
  maxRanges: number;
}

/** Replays client datagrams into a fresh ServerHandshake made to repeat the recording's randomness. */
export function replay(rec: Recording, deliveries: Delivery[]): Outcome {
  const out: Outcome = { result: "stalled", drops: {}, sent: [], violations: [], ms: 0, maxRanges: 0 };
  const v = (s: string) => void (out.violations.length < 8 && out.violations.push(s));
  let now = 0,
    doneCount = 0,
    failCount = 0,
    patched = false;
  const hs = new ServerHandshake({
    certDer: rec.certDer,
    sign: () => rec.skeSig,
    send: (r) => {
      out.sent.push({ now, rec: Uint8Array.from(r) });
      // flight 4's first sending only (a resent flight 4 is the same records, the transcript has moved on)
      if (!isSke(r) || patched) return;
      patched = true;
      // The curve this hello chose (named_curve in the ServerKeyExchange): the recording's key when it is the same.
      if (((r[26]! << 8) | r[27]!) !== rec.curve) return;
      const p = hs as unknown as Priv;
      p.ourPublic = rec.ourPublic;
      if (rec.curve === 29) p.x25519Key = rec.x25519Key;
      else {
        const e = createECDH("prime256v1");
        e.setPrivateKey(rec.p256Private!);
        p.p256 = e;
      }
      p.transcript[p.transcript.length - 1] = rec.skeMessage;
    },
    drop: (r) => void (out.drops[r] = (out.drops[r] ?? 0) + 1),
    fail: (r) => {
      failCount++;
      out.fail = r;
    },
    done: (k, der) => {
      doneCount++;
      if (keysId(k) !== rec.keys) v("completed with keys other than the recording's");
      if (!Buffer.from(der).equals(rec.clientCert)) v("completed with a client certificate other than the recording's");
    },
  });
  (hs as unknown as Priv).serverRandom = Buffer.from(rec.serverRandom);
  const t0 = performance.now();
  for (const { d, now: t } of deliveries) {
    now = t;
    try {
      hs.receive(d, t);
    } catch (e) {
      v(`receive() threw: ${(e as Error)?.stack ?? e}`);
    }
    bounds(hs as unknown as Priv, v, out);
  }
  out.ms = performance.now() - t0;
  if (doneCount > 1) v(`done ${doneCount} times`);
  if (failCount > 1) v(`fail ${failCount} times`);
  if (doneCount && failCount) v("both done and fail");
  if (doneCount !== (hs.connected ? 1 : 0)) v("done and connected disagree");
  out.result = doneCount ? "completed" : failCount ? (/alert \d+$/.test(out.fail!) ? "failed-peer-alert" : "failed-alert") : "stalled";
  sends(out, v);
  return out;
}

/** What the handshake holds stays within its caps. */
function bounds(p: Priv, v: (s: string) => void, out: Outcome) {
  const pend = p.reasm.pending;
  if (pend.size > CAPS.pending) v(`reassembly holds ${pend.size} messages`);
  for (const m of pend.values()) {
    if (m.buf.length > MAX_HANDSHAKE_MESSAGE) v(`reassembly buffer of ${m.buf.length} bytes`);
    out.maxRanges = Math.max(out.maxRanges, m.have.length);
    if (m.have.length > CAPS.ranges) v(`reassembly holds ${m.have.length} disjoint ranges of one message`);
  }
  if (p.ahead.size > CAPS.ahead) v(`${p.ahead.size} messages held ahead`);
  for (const [seq, m] of p.ahead) {
    if (m.body.length > MAX_HANDSHAKE_MESSAGE) v(`a message of ${m.body.length} bytes held ahead`);
    if (seq < p.next) v(`a message held ahead behind next (${seq} < ${p.next})`);
  }
  if (p.transcript.length > CAPS.transcript) v(`transcript of ${p.transcript.length} messages`);
  if (p.seen.size > CAPS.seen) v(`${p.seen.size} message_seq values seen`);
  if (p.early && p.early.length > CAPS.record) v(`early record of ${p.early.length} bytes`);
  if (p.flight4.length > 5 || p.flight6.length > 2) v("flights grew");
}

/** At most one alert and nothing after it; flights resent at most once per REPLAY_GAP_MS. */
function sends(out: Outcome, v: (s: string) => void) {
  const alerts = out.sent.filter((s) => s.rec[0] === 21);
  if (alerts.length > 1) v(`${alerts.length} alerts sent`);
  if (alerts.length && out.sent.at(-1)!.rec[0] !== 21) v("records sent after the alert");
  if (alerts.length && out.result !== "failed-alert") v(`an alert sent, but the result is ${out.result}`);
  if (out.result === "failed-alert" && !alerts.length) v("failed without an alert");
  const hello = out.sent.filter((s) => s.rec[0] === 22 && s.rec[4] === 0 && s.rec[13] === 2).map((s) => s.now);
  const fin = out.sent.filter((s) => s.rec[0] === 22 && s.rec[4] === 1).map((s) => s.now);
  if (fin.length && out.result !== "completed") v("flight 6 sent, not completed");
  const resends = [...hello.slice(1), ...fin.slice(1)].sort((a, b) => a - b);
  for (let i = 1; i < resends.length; i++)
    if (resends[i]! - resends[i - 1]! < REPLAY_GAP_MS) v(`flights resent ${(resends[i]! - resends[i - 1]!).toFixed(0)} ms apart`);
}

// ---------------------------------------------------------------------------------------------
// The recording as messages and records

interface Hs {
  kind: "hs";
  type: number;
  seq: number;
  body: Uint8Array;
  recSeq: number;
  dg: number;
  /** fragments to send instead of one whole message: [offset, end) */
  frags?: [number, number][];
  role: string;
}
interface Raw {
  kind: "raw";
  rec: Uint8Array;
  dg: number;
  role: string;
}
type Item = Hs | Raw;

const NAMES: Record<number, string> = { 1: "ClientHello", 11: "Certificate", 16: "ClientKeyExchange", 15: "CertificateVerify" };

function items(rec: Recording): Item[] {
  const out: Item[] = [];
  rec.datagrams.forEach((d, dg) => {
    for (let o = 0; o + 13 <= d.length; ) {
      const len = (d[o + 11]! << 8) | d[o + 12]!;
      const r = d.slice(o, o + 13 + len);
      o += 13 + len;
      if (r[0] === 22 && r[3] === 0 && r[4] === 0) {
        // werift sends each message whole, one a record
        const blen = (r[14]! << 16) | (r[15]! << 8) | r[16]!;
        out.push({
          kind: "hs",
          type: r[13]!,
          seq: (r[17]! << 8) | r[18]!,
          body: r.slice(25, 25 + blen),
          recSeq: Buffer.from(r.subarray(5, 11)).readUIntBE(0, 6),
          dg,
          role: NAMES[r[13]!] ?? `hs${r[13]}`,
        });
      } else out.push({ kind: "raw", rec: r, dg, role: r[0] === 20 ? "ChangeCipherSpec" : r[0] === 22 ? "Finished" : `ct${r[0]}` });
    }
  });
  return out;
}

/** A plaintext record of handshake fragments. */
export function fragRecord(
  recSeq: number,
  frags: { type: number; length: number; seq: number; offset: number; data: Uint8Array }[],
  epoch = 0,
): Uint8Array {
  const n = frags.reduce((a, f) => a + 12 + f.data.length, 0);
  const out = Buffer.alloc(13 + n);
  out[0] = 22;
  out.writeUInt16BE(DTLS_1_2, 1);
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(recSeq, 5, 6);
  out.writeUInt16BE(n, 11);
  let o = 13;
  for (const f of frags) {
    out[o] = f.type;
    out.writeUIntBE(f.length, o + 1, 3);
    out.writeUInt16BE(f.seq & 0xffff, o + 4);
    out.writeUIntBE(f.offset, o + 6, 3);
    out.writeUIntBE(f.data.length, o + 9, 3);
    out.set(f.data, o + 12);
    o += 12 + f.data.length;
  }
  return out;
}

function rawRecord(type: number, epoch: number, recSeq: number, body: Uint8Array): Uint8Array {
  const out = Buffer.alloc(13 + body.length);
  out[0] = type;
  out.writeUInt16BE(DTLS_1_2, 1);
  out.writeUInt16BE(epoch, 3);
  out.writeUIntBE(recSeq, 5, 6);
  out.writeUInt16BE(body.length, 11);
  out.set(body, 13);
  return out;
}

/** Vector length fields of a message body: where, how wide, the length it says, and the field it is inside. */
interface Field {
  at: number;
  size: 1 | 2 | 3;
  len: number;
  parent?: number;
  name: string;
}
function fields(type: number, b: Uint8Array): Field[] {
  const out: Field[] = [];
  const get = (at: number, size: number) => {
    let v = 0;
    for (let i = 0; i < size; i++) v = v * 256 + (b[at + i] ?? 0);
    return v;
  };
  const add = (at: number, size: 1 | 2 | 3, name: string, parent?: number) => {
    if (at + size > b.length) return -1;
    out.push({ at, size, len: get(at, size), parent, name });
    return out.length - 1;
  };
  const end = (i: number) => out[i]!.at + out[i]!.size + out[i]!.len;
  try {
    if (type === 1) {
      let o = 34;
      for (const [n, s] of [
        ["session_id", 1],
        ["cookie", 1],
        ["cipher_suites", 2],
        ["compression", 1],
      ] as const) {
        const i = add(o, s, n);
        if (i < 0) return out;
        o = end(i);
      }
      const ex = add(o, 2, "extensions");
      if (ex < 0) return out;
      o += 2;
      while (o + 4 <= Math.min(end(ex), b.length)) {
        const t = get(o, 2);
        const e = add(o + 2, 2, `extension ${t}`, ex);
        if (t === 10 || t === 13) add(o + 4, 2, t === 10 ? "supported_groups list" : "signature_algorithms list", e);
        o = end(e);
      }
    } else if (type === 11) {
      const l = add(0, 3, "certificate_list");
      add(3, 3, "certificate", l);
    } else if (type === 16) add(0, 1, "ecdh_Yc");
    else if (type === 15) {
      const s = add(2, 2, "signature");
      // the DER ECDSA-Sig-Value inside: SEQUENCE length, INTEGER r length, INTEGER s length
      if (s >= 0 && b[4] === 0x30 && b[5]! < 0x80) {
        const q = add(5, 1, "signature SEQUENCE", s);
        if (b[6] === 2) {
          const r = add(7, 1, "signature r", q);
          if (r >= 0 && b[end(r)] === 2) add(end(r) + 1, 1, "signature s", q);
        }
      }
    }
  } catch {
    /* a short body: the fields found so far */
  }
  return out;
}

const u24 = (n: number) => [(n >> 16) & 255, (n >> 8) & 255, n & 255];
/** A Certificate message body of these certificates. */
function certList(...cs: Uint8Array[]): Uint8Array {
  const inner = cs.flatMap((c) => [...u24(c.length), ...c]);
  return Uint8Array.from([...u24(inner.length), ...inner]);
}

const put = (b: Uint8Array, at: number, size: number, v: number) => {
  for (let i = size - 1; i >= 0; i--, v = Math.floor(v / 256)) b[at + i] = v & 255;
};

/** The body with one vector resized by `delta` bytes (random bytes added at its end, or its tail cut), enclosing lengths adjusted. */
function resize(body: Uint8Array, fs: Field[], i: number, delta: number, r: R): Uint8Array {
  const f = fs[i]!;
  const dataEnd = Math.min(body.length, f.at + f.size + f.len);
  delta = Math.max(delta, -(dataEnd - f.at - f.size));
  const out = new Uint8Array(body.length + delta);
  if (delta >= 0) {
    out.set(body.subarray(0, dataEnd));
    out.set(r.bytes(delta), dataEnd);
    out.set(body.subarray(dataEnd), dataEnd + delta);
  } else {
    out.set(body.subarray(0, dataEnd + delta));
    out.set(body.subarray(dataEnd), dataEnd + delta);
  }
  for (let j: number | undefined = i; j !== undefined; j = fs[j]!.parent) {
    const g = fs[j]!;
    put(out, g.at, g.size, Math.max(0, Math.min(256 ** g.size - 1, g.len + delta)));
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Hostile key shares and signatures

const hex = (s: string) => Uint8Array.from(Buffer.from(s, "hex"));
/** Curve25519 points of small order and their non-canonical forms (the list libsodium refuses). */
export const X25519_BAD = [
  "0000000000000000000000000000000000000000000000000000000000000000",
  "0100000000000000000000000000000000000000000000000000000000000000",
  "e0eb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b800",
  "5f9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f1157",
  "ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "edffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "eeffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f",
  "cdeb7a7c3b41b8ae1656e3faf19fc46ada098deb9c32b1fd866205165f49b880",
  "4c9c95bca3508c24b1d0b1559c83ef5b04445cc4581c8e86d8224eddd09f11d7",
  "d9ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "daffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
  "dbffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
].map(hex);
const P = 2n ** 256n - 2n ** 224n + 2n ** 192n + 2n ** 96n - 1n;
const big = (b: Uint8Array) => BigInt("0x" + (Buffer.from(b).toString("hex") || "0"));
const be32 = (n: bigint) => hex(n.toString(16).padStart(64, "0"));
const G =
  "046b17d1f2e12c4247f8bce6e563a440f277037d812deb33a0f4a13945d898c2964fe342e2fe1a7f9b8ee7eb4a7c0f9e162bce33576b315ececbb6406837bf51f5";

/** A key share for the ClientKeyExchange: hostile for its curve (or the other one's shape). */
function badShare(curve: number, orig: Uint8Array, r: R): [string, Uint8Array] {
  if (curve === 29) {
    const k = r.int(X25519_BAD.length + 4);
    if (k < X25519_BAD.length) return [`x25519 small-order ${k}`, X25519_BAD[k]!];
    return [
      ["x25519 31 bytes", orig.subarray(0, 31)],
      ["x25519 33 bytes", Uint8Array.from([...orig, 0])],
      ["x25519 empty", new Uint8Array(0)],
      ["x25519 given a P-256 point", hex(G)],
    ][k - X25519_BAD.length] as [string, Uint8Array];
  }
  const x = orig.subarray(1, 33),
    y = orig.subarray(33, 65);
  const cases: [string, () => Uint8Array][] = [
    ["p256 off the curve (y+1)", () => Uint8Array.from([4, ...x, ...be32((big(y) + 1n) % P)])],
    ["p256 random x, y", () => Uint8Array.from([4, ...r.bytes(64)])],
    ["p256 all zero", () => Uint8Array.from([4, ...new Uint8Array(64)])],
    ["p256 infinity (one byte)", () => Uint8Array.of(0)],
    ["p256 compressed", () => Uint8Array.from([2 + (y[31]! & 1), ...x])],
    ["p256 x = p", () => Uint8Array.from([4, ...be32(P), ...y])],
    ["p256 y = p + 1 (out of range)", () => Uint8Array.from([4, ...x, ...be32(P + 1n)])],
    ["p256 negated (on the curve, another point)", () => Uint8Array.from([4, ...x, ...be32((P - big(y)) % P)])],
    ["p256 the generator", () => hex(G)],
    ["p256 hybrid form 0x06", () => Uint8Array.from([6, ...x, ...y])],
    ["p256 given an x25519 key", () => r.bytes(32)],
  ];
  const [n, f] = cases[r.int(cases.length)]!;
  return [n, f()];
}

/** A CertificateVerify signature that must not verify. */
function badSignature(orig: Uint8Array, r: R): [string, Uint8Array] {
  const cases: [string, () => Uint8Array][] = [
    ["empty", () => new Uint8Array(0)],
    ["one byte", () => Uint8Array.of(0x30)],
    ["64 raw bytes (r||s, not DER)", () => r.bytes(64)],
    ["truncated by one", () => orig.subarray(0, orig.length - 1)],
    ["one byte appended", () => Uint8Array.from([...orig, 0])],
    ["SEQUENCE of nothing", () => Uint8Array.of(0x30, 0)],
    ["r = 0, s = 0", () => Uint8Array.of(0x30, 6, 2, 1, 0, 2, 1, 0)],
    ["r = s = 1", () => Uint8Array.of(0x30, 6, 2, 1, 1, 2, 1, 1)],
    ["r = n (the group order)", () => hex("3026022100ffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551020101")],
    ["2 KB", () => r.bytes(2048)],
    ["the signature's last byte flipped", () => Uint8Array.from(orig, (x, i) => (i === orig.length - 1 ? x ^ 1 : x))],
  ];
  const [n, f] = cases[r.int(cases.length)]!;
  return [n, f()];
}

// ---------------------------------------------------------------------------------------------
// Cases

/** What a case must do: complete (only reframed), never complete (signed or MACed bytes changed, or
 *  a needed message lost), or either (hostile additions, damaged framing): the oracle still holds. */
export type Expect = "complete" | "never" | "any";

export interface Case {
  rec: Recording;
  ops: string[];
  expect: Expect;
  deliveries: Delivery[];
}

interface State {
  r: R;
  rec: Recording;
  items: Item[];
  /** records by datagram (after framing) */
  dgs: Uint8Array[][];
  /** datagrams (after packing) */
  wire: Uint8Array[];
  gaps: number[];
  ops: string[];
  /** the Finished is computed anew for the changed messages (an active client that knows the master secret) */
  reseal: boolean;
}

type Kind = "tamper" | "lose" | "benign" | "hostile";
interface Op {
  name: string;
  /** 1 messages, 2 framing, 3 records, 4 datagrams, 5 timing */
  phase: 1 | 2 | 3 | 4 | 5;
  kind: Kind;
  weight: number;
  /** changes the ClientHello or the Finished: not in a case whose Finished is resealed */
  noReseal?: true;
  /** can write back what a message-level op changed (a header field, a copy of the hello with another
   *  message_seq): a case with it and a tamper is judged by the oracle alone */
  restores?: true;
  /** applies the op; a string names what it did (appended to the op's name), false when it could not apply */
  apply(s: State): string | boolean;
}

const pick = <T>(r: R, a: T[]): T => a[r.int(a.length)]!;
const hsItems = (s: State, role?: string) => s.items.filter((i): i is Hs => i.kind === "hs" && (!role || i.role === role));
/** The messages a message-level op may change: the client's flight 5 only when the Finished is resealed. */
const targets = (s: State) => hsItems(s).filter((m) => !s.reseal || m.role !== "ClientHello");
const flat = (s: State) => s.dgs.flat();
const recSeqOf = (s: State) => 100 + s.r.int(1000);
/** The client Finished's message_seq (the recording's, whatever the case did to its messages). */
const finSeq = (s: State) => Math.max(...items(s.rec).map((i) => (i.kind === "hs" ? i.seq : 0))) + 1;

/** Inserts a record at a random place after the ClientHello (or anywhere, `before`), in an existing or a new datagram. */
function insert(s: State, rec: Uint8Array, before = false) {
  const r = s.r;
  const first = before ? 0 : 1;
  if (s.dgs.length <= first || r.int(3) === 0) s.dgs.splice(first + r.int(s.dgs.length - first + 1), 0, [rec]);
  else {
    const d = s.dgs[first + r.int(s.dgs.length - first)]!;
    d.splice(r.int(d.length + 1), 0, rec);
  }
}

export const OPS: Op[] = [
  // --- 1: messages (the client signs or MACs every byte changed here) ---
  {
    name: "flip-body-bit",
    phase: 1,
    kind: "tamper",
    weight: 6,
    apply(s) {
      const m = pick(s.r, targets(s));
      if (!m.body.length) return false;
      const i = s.r.int(m.body.length);
      m.body[i]! ^= 1 << s.r.int(8);
      return `${m.role}[${i}]`;
    },
  },
  {
    name: "vector-length",
    phase: 1,
    kind: "tamper",
    weight: 8,
    apply(s) {
      const m = pick(s.r, targets(s));
      const fs = fields(m.type, m.body);
      if (!fs.length) return false;
      const i = s.r.int(fs.length),
        f = fs[i]!;
      const max = 256 ** f.size - 1;
      const v = pick(s.r, [f.len + 1, f.len - 1, f.len + 1 + s.r.int(16), 0, max, s.r.int(max + 1), f.len + 256, f.len * 2]);
      if (v < 0 || v > max || v === f.len) return false;
      if (s.r.int(2)) {
        put(m.body, f.at, f.size, v); // the length alone: inconsistent with what follows
        return `${m.role} ${f.name} ${f.len}→${v}`;
      }
      const delta = Math.max(-f.len, Math.min(v - f.len, 600));
      if (!delta) return false;
      m.body = resize(m.body, fs, i, delta, s.r); // consistent: data added or cut, enclosing lengths follow
      return `${m.role} ${f.name} resized by ${delta}`;
    },
  },
  {
    name: "truncate-or-extend-body",
    phase: 1,
    kind: "tamper",
    weight: 3,
    apply(s) {
      const m = pick(s.r, targets(s));
      if (s.r.int(2) && m.body.length) {
        const n = s.r.int(m.body.length);
        m.body = m.body.slice(0, n);
        return `${m.role} cut to ${n}`;
      }
      const n = 1 + s.r.int(s.r.int(4) ? 8 : MAX_HANDSHAKE_MESSAGE);
      m.body = Uint8Array.from([...m.body, ...s.r.bytes(n)]);
      return `${m.role} +${n}`;
    },
  },
  {
    name: "message-type",
    phase: 1,
    kind: "tamper",
    weight: 2,
    apply(s) {
      const m = pick(s.r, targets(s));
      const t = pick(s.r, [0, 1, 2, 3, 11, 12, 13, 14, 15, 16, 20, s.r.int(256)]);
      if (t === m.type) return false;
      m.type = t;
      return `${m.role}→${t}`;
    },
  },
  {
    name: "message-seq",
    phase: 1,
    kind: "tamper",
    weight: 3,
    apply(s) {
      const m = pick(s.r, targets(s));
      const q = pick(s.r, [m.seq + 1, m.seq - 1, 0, 0xffff, m.seq + 8, m.seq + 9, m.seq + 100, s.r.int(0x10000)]);
      if (q < 0 || q > 0xffff || q === m.seq) return false;
      m.seq = q;
      return `${m.role} ${q}`;
    },
  },
  {
    name: "key-share",
    phase: 1,
    kind: "tamper",
    weight: 4,
    apply(s) {
      const m = hsItems(s, "ClientKeyExchange")[0];
      if (!m) return false;
      const [n, k] = badShare(s.rec.curve, m.body.subarray(1, 1 + m.body[0]!), s.r);
      if (Buffer.from(k).equals(m.body.subarray(1))) return false;
      m.body = Uint8Array.from([k.length & 255, ...k]);
      return n;
    },
  },
  {
    name: "signature",
    phase: 1,
    kind: "tamper",
    weight: 4,
    apply(s) {
      const m = hsItems(s, "CertificateVerify")[0];
      if (!m) return false;
      if (!s.r.int(4)) {
        const scheme = pick(s.r, [0x0401, 0x0503, 0x0804, 0x0000, 0x0203]);
        m.body[0] = scheme >> 8;
        m.body[1] = scheme & 255;
        return `scheme ${scheme.toString(16)}`;
      }
      const [n, sig] = badSignature(m.body.subarray(4, 4 + ((m.body[2]! << 8) | m.body[3]!)), s.r);
      m.body = Uint8Array.from([m.body[0]!, m.body[1]!, sig.length >> 8, sig.length & 255, ...sig]);
      return n;
    },
  },
  {
    name: "certificate",
    phase: 1,
    kind: "tamper",
    weight: 3,
    apply(s) {
      const m = hsItems(s, "Certificate")[0];
      if (!m) return false;
      const own = m.body.slice(6);
      const list = certList;
      const [n, b] = pick(s.r, [
        ["the relay's certificate (valid, another key)", list(s.rec.otherCert)],
        ["the relay's then the client's", list(s.rec.otherCert, own)],
        ["the client's then the relay's", list(own, s.rec.otherCert)],
        ["garbage DER", list(s.r.bytes(1 + s.r.int(300)))],
        ["a DER SEQUENCE of nothing", list(Uint8Array.of(0x30, 0))],
        ["an empty list", list()],
        ["an empty certificate", list(new Uint8Array(0))],
        ["a byte of the client's certificate flipped", list(Uint8Array.from(own, (x, i) => (i === own.length - 80 ? x ^ 1 : x)))],
      ] as [string, Uint8Array][]);
      m.body = b;
      return n;
    },
  },
  {
    name: "flip-finished-bit",
    phase: 1,
    kind: "tamper",
    noReseal: true,
    weight: 4,
    apply(s) {
      const f = s.items.find((i): i is Raw => i.kind === "raw" && i.role === "Finished");
      if (!f) return false;
      const i = s.r.int(f.rec.length);
      f.rec[i]! ^= 1 << s.r.int(8);
      return `Finished[${i}]`;
    },
  },
  {
    name: "finished-length",
    phase: 1,
    kind: "tamper",
    noReseal: true,
    weight: 1,
    apply(s) {
      const f = s.items.find((i): i is Raw => i.kind === "raw" && i.role === "Finished");
      if (!f) return false;
      const n = s.r.int(2) ? 13 + s.r.int(f.rec.length - 13) : f.rec.length + 1 + s.r.int(40);
      const b = new Uint8Array(n);
      b.set(f.rec.subarray(0, Math.min(n, f.rec.length)));
      if (n > f.rec.length) b.set(s.r.bytes(n - f.rec.length), f.rec.length);
      b[11] = (n - 13) >> 8;
      b[12] = (n - 13) & 255;
      f.rec = b;
      return `Finished of ${n - 13} bytes`;
    },
  },
  {
    name: "other-random",
    phase: 1,
    kind: "tamper",
    noReseal: true,
    weight: 1,
    apply(s) {
      const m = hsItems(s, "ClientHello")[0];
      if (!m || m.body.length < 34) return false;
      m.body.set(s.r.bytes(32), 2);
      return true;
    },
  },
  {
    name: "extra-message",
    phase: 1,
    kind: "tamper",
    weight: 3,
    apply(s) {
      // one more message in flight 5 (the ones after it renumbered): another Certificate, a second
      // key share or CertificateVerify, a hello, a plaintext Finished, an unknown type
      const f5 = hsItems(s).filter((m) => m.role !== "ClientHello");
      if (!f5.length) return false;
      // After the CertificateVerify only when the Finished is resealed over it: otherwise the message is
      // outside what the client MACed, and one delivered after the Finished is rightly never looked at.
      const at = s.r.int(f5.length + (s.reseal ? 1 : 0));
      const cke = hsItems(s, "ClientKeyExchange")[0];
      const [name, type, body] = pick(s.r, [
        ["the relay's Certificate", 11, certList(s.rec.otherCert)],
        ["the client's Certificate again", 11, hsItems(s, "Certificate")[0]?.body ?? new Uint8Array(3)],
        ["a ClientKeyExchange again", 16, cke?.body ?? Uint8Array.of(0)],
        [
          "a ClientKeyExchange of the generator",
          16,
          s.rec.curve === 23 ? Uint8Array.from([65, ...hex(G)]) : Uint8Array.from([32, 9, ...new Uint8Array(31)]),
        ],
        ["a CertificateVerify again", 15, hsItems(s, "CertificateVerify")[0]?.body ?? new Uint8Array(4)],
        ["a ClientHello", 1, hsItems(s, "ClientHello")[0]?.body ?? new Uint8Array(40)],
        ["a plaintext Finished", 20, s.r.bytes(12)],
        ["type 99", 99, s.r.bytes(s.r.int(50))],
      ] as [string, number, Uint8Array][]);
      const b = Uint8Array.from(body);
      const seq = at < f5.length ? f5[at]!.seq : f5.at(-1)!.seq + 1;
      for (const m of f5.slice(at)) m.seq++;
      const ref = at < f5.length ? f5[at]! : f5.at(-1)!;
      s.items.splice(s.items.indexOf(ref) + (at < f5.length ? 0 : 1), 0, {
        kind: "hs",
        type,
        seq,
        body: b,
        recSeq: ref.recSeq,
        dg: ref.dg,
        role: `extra ${NAMES[type] ?? `hs${type}`}`,
      });
      return `${name} at ${at}`;
    },
  },
  {
    name: "drop-message",
    phase: 1,
    kind: "lose",
    weight: 3,
    apply(s) {
      const need = s.items.filter(
        (i) =>
          i.role !== "ChangeCipherSpec" &&
          !i.role.startsWith("extra") &&
          (!s.reseal || (i.role !== "ClientHello" && i.role !== "Finished")),
      );
      const m = pick(s.r, need);
      s.items.splice(s.items.indexOf(m), 1);
      return m.role;
    },
  },
  {
    name: "drop-ccs",
    phase: 1,
    kind: "benign",
    weight: 1,
    apply(s) {
      const i = s.items.findIndex((x) => x.role === "ChangeCipherSpec");
      if (i < 0) return false;
      s.items.splice(i, 1);
      return true;
    },
  },

  // --- 2: framing (the same messages) ---
  {
    name: "refragment",
    phase: 2,
    kind: "benign",
    weight: 8,
    apply(s) {
      const m = pick(s.r, hsItems(s));
      const n = m.body.length;
      if (n < 2) return false;
      // a ClientHello's first fragment carries its cookie (the core and the session need it: relay/core.ts)
      const h = m.type === 1 ? helloStart(m.body) : null;
      const min = h ? h.cookieAt + 1 + h.cookie.length : 1;
      if (min >= n) return false;
      const k = 2 + s.r.int(Math.min(6, n - min));
      const cuts = new Set<number>();
      while (cuts.size < k - 1) cuts.add(min + s.r.int(n - min));
      const at = [0, ...[...cuts].sort((a, b) => a - b), n];
      const overlap = s.r.int(2) ? 1 + s.r.int(8) : 0;
      let frags: [number, number][] = [];
      for (let i = 0; i + 1 < at.length; i++)
        frags.push([Math.max(i ? min : 0, at[i]! - (i ? overlap : 0)), Math.min(n, at[i + 1]! + overlap)]);
      frags[0]![0] = 0;
      if (s.r.int(2)) frags = shuffle(s.r, frags);
      if (s.r.int(3) === 0) frags.splice(s.r.int(frags.length + 1), 0, pick(s.r, frags)); // a fragment twice
      m.frags = frags;
      return `${m.role} in ${frags.length}${overlap ? `, overlapping by ${overlap}` : ""}`;
    },
  },

  // --- 3: records ---
  {
    name: "coalesce",
    phase: 3,
    kind: "benign",
    weight: 2,
    apply(s) {
      // consecutive plaintext handshake records of a datagram as one record of several fragments
      let did = false;
      s.dgs = s.dgs.map((d) => {
        const out: Uint8Array[] = [];
        for (const rec of d) {
          const last = out.at(-1);
          if (last && last[0] === 22 && rec[0] === 22 && last[4] === 0 && rec[4] === 0 && last[3] === 0 && rec[3] === 0) {
            const m = Buffer.concat([last, rec.subarray(13)]);
            m.writeUInt16BE(m.length - 13, 11);
            out[out.length - 1] = m;
            did = true;
          } else out.push(rec);
        }
        return out;
      });
      return did;
    },
  },
  {
    name: "duplicate",
    phase: 3,
    kind: "benign",
    weight: 5,
    apply(s) {
      const all = flat(s);
      const rec = pick(s.r, all);
      const n = s.r.int(4) ? 1 : 2 + s.r.int(30);
      // after the original (a copy before it is another message order)
      const di = s.dgs.findIndex((d) => d.includes(rec));
      for (let k = 0; k < n; k++) {
        const j = di + s.r.int(s.dgs.length - di);
        if (j === di || s.r.int(2)) s.dgs.splice(j + 1, 0, [rec.slice()]);
        else s.dgs[j]!.push(rec.slice());
      }
      return `${roleOf(rec)} ×${n + 1}`;
    },
  },
  {
    name: "reorder",
    phase: 3,
    kind: "benign",
    weight: 5,
    apply(s) {
      // flight 5's records, shuffled over flight 5's datagrams (the ClientHello stays first)
      const hello = s.dgs.findIndex((d) => d.some((x) => roleOf(x) === "ClientHello"));
      const rest = s.dgs.slice(hello + 1);
      const sizes = rest.map((d) => d.length);
      const recs = shuffle(s.r, rest.flat());
      if (recs.length < 2) return false;
      let o = 0;
      s.dgs = [...s.dgs.slice(0, hello + 1), ...sizes.map((n) => recs.slice(o, (o += n)))];
      return recs.map(roleOf).join(",");
    },
  },
  {
    name: "record-seq",
    phase: 3,
    kind: "benign",
    weight: 2,
    apply(s) {
      const recs = flat(s).filter((x) => x[3] === 0 && x[4] === 0);
      const rec = pick(s.r, recs);
      Buffer.from(rec.buffer, rec.byteOffset, rec.length).writeUIntBE(pick(s.r, [0, 2 ** 48 - 1, s.r.next(), 1]), 5, 6);
      return roleOf(rec);
    },
  },
  {
    name: "ignorable",
    phase: 3,
    kind: "benign",
    weight: 4,
    apply(s) {
      const r = s.r;
      const any = pick(r, flat(s));
      const [n, rec] = pick(r, [
        ["ChangeCipherSpec", rawRecord(20, 0, recSeqOf(s), Uint8Array.of(1))],
        ["ChangeCipherSpec at epoch 1", rawRecord(20, 1, 0, Uint8Array.of(1))],
        ["application data at epoch 0", rawRecord(23, 0, recSeqOf(s), r.bytes(r.int(100)))],
        ["application data at epoch 1", rawRecord(23, 1, r.int(10), r.bytes(r.int(100)))],
        ["content type 99", rawRecord(99, 0, recSeqOf(s), r.bytes(r.int(40)))],
        ["an alert of 3 bytes", rawRecord(21, 0, recSeqOf(s), Uint8Array.of(2, 40, 0))],
        ["an alert at epoch 1", rawRecord(21, 1, 9, r.bytes(2 + r.int(40)))],
        ["a record at epoch 2", Uint8Array.from(any, (x, i) => (i === 4 ? 2 : i === 3 ? 0 : x))],
        ["a record at epoch 0xffff", Uint8Array.from(any, (x, i) => (i === 3 || i === 4 ? 0xff : x))],
      ] as [string, Uint8Array][]);
      insert(s, rec, true);
      return n;
    },
  },
  {
    name: "alert",
    phase: 3,
    kind: "hostile",
    weight: 2,
    apply(s) {
      insert(s, rawRecord(21, 0, recSeqOf(s), Uint8Array.of(s.r.int(3), s.r.int(256))), s.r.int(4) === 0);
      return true;
    },
  },
  {
    name: "epoch-1-garbage",
    phase: 3,
    kind: "hostile",
    weight: 2,
    apply(s) {
      const n = pick(s.r, [0, 1, 24, 40, 48, 200]);
      insert(s, rawRecord(22, 1, s.r.int(16), s.r.bytes(n)), s.r.int(4) === 0);
      return `${n} bytes`;
    },
  },
  {
    name: "wrong-epoch",
    phase: 3,
    kind: "hostile",
    restores: true,
    weight: 2,
    apply(s) {
      // a copy of a real record with another epoch (the original stays)
      const rec = pick(s.r, flat(s)).slice();
      const e = pick(s.r, [0, 1, 2, 0xffff]);
      if (e === ((rec[3]! << 8) | rec[4]!)) return false;
      rec[3] = e >> 8;
      rec[4] = e & 255;
      insert(s, rec);
      return `${roleOf(rec)} at epoch ${e}`;
    },
  },
  {
    name: "junk-fragment",
    phase: 3,
    kind: "hostile",
    weight: 5,
    apply(s) {
      const r = s.r;
      const fin = finSeq(s);
      const seq = pick(r, [fin, fin + 1, fin + 3, fin + 8, 2, 3, 0xffff, r.int(0x10000)]);
      const type = pick(r, [11, 15, 16, 20, 1, r.int(256)]);
      const data = r.bytes(r.int(64));
      const shape = r.int(5);
      const length =
        shape === 0
          ? data.length
          : shape === 1
            ? MAX_HANDSHAKE_MESSAGE + 1 + r.int(100)
            : shape === 2
              ? 0xffffff
              : data.length + 1 + r.int(5000);
      const offset = shape === 4 ? r.int(Math.max(1, length - data.length)) : 0;
      insert(s, fragRecord(recSeqOf(s), [{ type, length: Math.max(length, offset + data.length), seq, offset, data }]), r.int(4) === 0);
      return `type ${type} seq ${seq} length ${length} offset ${offset}`;
    },
  },
  {
    name: "ahead-flood",
    phase: 3,
    kind: "hostile",
    weight: 2,
    apply(s) {
      // whole junk messages for every message_seq the handshake would hold ahead of the next one
      const next = (items(s.rec).find((i): i is Hs => i.kind === "hs" && i.role === "ClientHello")?.seq ?? 0) + 1;
      const seqs = shuffle(
        s.r,
        Array.from({ length: 9 }, (_, i) => next + i),
      ).slice(0, 5 + s.r.int(5));
      const recs = seqs.map((seq) => handshakeRecord(recSeqOf(s), DTLS_1_2, pick(s.r, [11, 15, 16, 99]), seq, s.r.bytes(s.r.int(300))));
      if (s.r.int(2)) insert(s, Uint8Array.from(Buffer.concat(recs)));
      else for (const x of recs) insert(s, x);
      return seqs.join(",");
    },
  },
  {
    name: "fragment-flood",
    phase: 3,
    kind: "hostile",
    weight: 1,
    apply(s) {
      // disjoint one-byte fragments of messages that never complete, packed into full records
      const r = s.r;
      const fin = finSeq(s);
      const seqs = shuffle(r, [fin - 3, fin - 2, fin - 1, fin + 1, fin + 2, 0x7fff]).slice(0, 1 + r.int(4));
      const recs: Uint8Array[] = [];
      for (const seq of seqs) {
        const f = [];
        for (let off = 1 + r.int(2); off < 8000 && f.length < 100 + r.int(400); off += 2 + r.int(3))
          f.push({ type: 11, length: 8192, seq, offset: off, data: r.bytes(1) });
        for (let i = 0; i < f.length; i += 100) recs.push(fragRecord(recSeqOf(s), f.slice(i, i + 100)));
      }
      s.dgs.splice(1 + r.int(s.dgs.length), 0, ...recs.map((x) => [x]));
      return `${seqs.length} messages, ${recs.length} records`;
    },
  },
  {
    name: "second-hello",
    phase: 3,
    kind: "hostile",
    restores: true,
    weight: 3,
    apply(s) {
      const m = hsItems(s, "ClientHello")[0];
      if (!m || m.body.length < 34) return false;
      const b = m.body.slice();
      const what = s.r.int(3);
      if (what !== 1) b.set(s.r.bytes(32), 2); // another random
      const seq = what === 2 ? m.seq : pick(s.r, [m.seq, m.seq + 1, 0]);
      insert(s, handshakeRecord(recSeqOf(s), DTLS_1_2, 1, seq, b), s.r.int(4) === 0);
      return what === 1 ? `same random, seq ${seq}` : `another random, seq ${seq}`;
    },
  },
  {
    name: "header-field",
    phase: 3,
    kind: "hostile",
    restores: true,
    weight: 8,
    apply(s) {
      // one header field of one record: record length, epoch, type, version; handshake length,
      // message_seq, fragment_offset, fragment_length (the record's first fragment)
      const all = flat(s);
      const rec = pick(s.r, all);
      const b = Buffer.from(rec.buffer, rec.byteOffset, rec.length);
      const hs = rec[0] === 22 && rec[3] === 0 && rec[4] === 0 && rec.length >= 25;
      const f = pick(
        s.r,
        (
          [
            ["record length", 11, 2],
            ["epoch", 3, 2],
            ["type", 0, 1],
            ["version", 1, 2],
          ] as [string, number, number][]
        ).concat(
          hs
            ? [
                ["length", 14, 3],
                ["message_seq", 17, 2],
                ["fragment_offset", 19, 3],
                ["fragment_length", 22, 3],
              ]
            : [],
        ),
      );
      const [name, at, size] = f;
      const old = b.readUIntBE(at, size),
        max = 256 ** size - 1;
      const v = pick(s.r, [old + 1, old - 1, 0, max, old + 1 + s.r.int(300), s.r.int(max + 1), MAX_HANDSHAKE_MESSAGE + 1]);
      if (v < 0 || v > max || v === old) return false;
      b.writeUIntBE(v, at, size);
      return `${roleOf(rec)} ${name} ${old}→${v}`;
    },
  },

  // --- 4: datagrams ---
  {
    name: "split",
    phase: 4,
    kind: "benign",
    weight: 3,
    apply(s) {
      s.wire = s.dgs.flat();
      return true;
    },
  },
  {
    name: "merge",
    phase: 4,
    kind: "benign",
    weight: 2,
    apply(s) {
      s.wire = [Buffer.concat(s.dgs.flat())];
      return true;
    },
  },
  {
    name: "trailing-partial-record",
    phase: 4,
    kind: "benign",
    weight: 2,
    apply(s) {
      const i = s.r.int(s.wire.length);
      const tail = s.r.int(2) ? s.r.bytes(1 + s.r.int(12)) : Uint8Array.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 9, 0xff, 0xff, 1, 2]);
      s.wire[i] = Uint8Array.from([...s.wire[i]!, ...tail]);
      return true;
    },
  },
  {
    name: "truncate-datagram",
    phase: 4,
    kind: "hostile",
    weight: 3,
    apply(s) {
      const i = s.r.int(s.wire.length);
      const n = s.r.int(s.wire[i]!.length);
      s.wire[i] = s.wire[i]!.slice(0, n);
      return `${i} to ${n}`;
    },
  },
  {
    name: "empty-and-garbage-datagrams",
    phase: 4,
    kind: "hostile",
    weight: 2,
    apply(s) {
      const d = s.r.int(2) ? new Uint8Array(0) : s.r.bytes(1 + s.r.int(1500));
      s.wire.splice(s.r.int(s.wire.length + 1), 0, d);
      return `${d.length} bytes`;
    },
  },

  // --- 5: timing ---
  {
    name: "slow",
    phase: 5,
    kind: "benign",
    weight: 3,
    apply(s) {
      s.gaps = s.gaps.map(() => pick(s.r, [0, 1, 50, 399, 400, 450, 1000]));
      return true;
    },
  },
];

function shuffle<T>(r: R, a: T[]): T[] {
  const b = [...a];
  for (let i = b.length - 1; i > 0; i--) {
    const j = r.int(i + 1);
    [b[i], b[j]] = [b[j]!, b[i]!];
  }
  return b;
}

function roleOf(rec: Uint8Array): string {
  if (rec[0] === 22 && rec[3] === 0 && rec[4] === 0) return NAMES[rec[13]!] ?? `hs${rec[13]}`;
  if (rec[0] === 22) return "Finished";
  return rec[0] === 20 ? "ChangeCipherSpec" : `ct${rec[0]}`;
}

/**
 * Whether a case's items carry the recording's messages and records as the server would take them:
 * "same", "differ", or "maybe" when two messages share a message_seq and one of them is the recording's
 * (the server takes the one that comes first: a matter of delivery order). ChangeCipherSpec aside.
 * `upToFinished`: only the messages before the Finished's message_seq count (a Finished not resealed:
 * a message after them is outside what the client MACed; taken before the Finished it fails the
 * handshake, after it nobody looks at it). `identity`: the CertificateVerify by its signature only,
 * the Finished not at all (a resealed case).
 */
function compare(a: Item[], b: Item[], upToFinished: boolean, identity = false): "same" | "maybe" | "differ" {
  const fin = Math.max(...a.map((i) => (i.kind === "hs" ? i.seq : 0))) + 1;
  const sig = (b: Uint8Array) => Buffer.from(b.subarray(4, 4 + ((b[2]! << 8) | b[3]!))).toString("hex");
  const key = (i: Hs) =>
    identity && i.role === "CertificateVerify" && i.type === 15 && i.body.length >= 4
      ? `cv.${sig(i.body)}`
      : `h${i.type}.${Buffer.from(i.body).toString("hex")}`;
  const raws = (l: Item[]) =>
    l
      .filter((i): i is Raw => i.kind === "raw" && i.role !== "ChangeCipherSpec" && !(identity && i.role === "Finished"))
      .map((i) => Buffer.from(i.rec).toString("hex"))
      .sort()
      .join();
  if (raws(a) !== raws(b)) return "differ";
  // A flight-5 message numbered below the recording's first flight-5 message is a stale copy to the
  // server (the hellos' numbers are taken, or behind it): dropped unread, as RFC 6347 §4.2.2 has it.
  const f5 = Math.min(...a.map((i) => (i.kind === "hs" && i.role !== "ClientHello" ? i.seq : Infinity)));
  const stale = (i: Hs) => i.role !== "ClientHello" && i.seq < f5;
  const bySeq = (l: Item[]) => {
    const m = new Map<number, Set<string>>();
    for (const i of l)
      if (i.kind === "hs" && !stale(i) && (!upToFinished || i.seq < fin)) m.set(i.seq, (m.get(i.seq) ?? new Set()).add(key(i)));
    return m;
  };
  const [x, y] = [bySeq(a), bySeq(b)];
  if ([...y.keys()].some((q) => !x.has(q))) return "differ";
  let maybe = false;
  for (const [q, keys] of x) {
    const got = y.get(q);
    if (!got || !got.has([...keys][0]!)) return "differ";
    if (got.size > 1) maybe = true;
  }
  return maybe ? "maybe" : "same";
}

/** The records of the items, each message whole or in its fragments, grouped into the recording's datagrams. */
function frame(s: State) {
  const dgs: Uint8Array[][] = [];
  for (const it of s.items) {
    const d = (dgs[it.dg] ??= []);
    if (it.kind === "raw") d.push(it.rec.slice());
    else if (!it.frags) d.push(handshakeRecord(it.recSeq, DTLS_1_2, it.type, it.seq, it.body));
    else {
      // each fragment its own record, or two to a record
      const frs = it.frags.map(([a, b]) => ({
        type: it.type,
        length: it.body.length,
        seq: it.seq,
        offset: a,
        data: it.body.subarray(a, b),
      }));
      for (let i = 0; i < frs.length; ) {
        const n = s.r.int(2) ? 2 : 1;
        d.push(fragRecord(it.recSeq, frs.slice(i, i + n)));
        i += n;
      }
    }
  }
  s.dgs = dgs.filter((d) => d && d.length);
}

/** A handshake message as the transcript holds it (relay/dtls-server.ts message()). */
function message(type: number, seq: number, body: Uint8Array): Buffer {
  const m = Buffer.alloc(12 + body.length);
  m[0] = type;
  m.writeUIntBE(body.length, 1, 3);
  m.writeUInt16BE(seq & 0xffff, 4);
  m.writeUIntBE(body.length, 9, 3);
  m.set(body, 12);
  return m;
}

const X25519_SPKI = Buffer.from("302a300506032b656e032100", "hex");
const label = (t: string) => Buffer.from(t, "latin1");

/**
 * The client's Finished record computed anew for the case's (changed) Certificate, ClientKeyExchange
 * and CertificateVerify, as a client would that made its own key share: the premaster secret from the
 * recording's server key and the case's key share, the master secret (extended when offered), the
 * verify_data over the transcript, sealed under the client's write key. The ClientHello and flight 4
 * are the recording's. Nothing is changed when the key share gives no secret (the server refuses it).
 */
export function resealFinished(rec: Recording, its: Item[]): boolean {
  const fin = its.find((i): i is Raw => i.kind === "raw" && i.role === "Finished");
  const cke = its.find((i): i is Hs => i.kind === "hs" && i.role === "ClientKeyExchange");
  if (!fin || !cke || !cke.body.length) return false;
  const point = cke.body.subarray(1, 1 + cke.body[0]!);
  let pms: Buffer;
  try {
    if (rec.curve === 29) {
      const peer = createPublicKey({ key: Buffer.concat([X25519_SPKI, point]), format: "der", type: "spki" });
      pms = diffieHellman({ privateKey: rec.x25519Key!, publicKey: peer });
    } else {
      const e = createECDH("prime256v1");
      e.setPrivateKey(rec.p256Private!);
      pms = e.computeSecret(point);
    }
  } catch {
    return false;
  }
  const flight5 = its.filter((i): i is Hs => i.kind === "hs" && i.role !== "ClientHello").map((m) => message(m.type, m.seq, m.body));
  const upTo = (role: string) => {
    const k = its.filter((i) => i.kind === "hs" && i.role !== "ClientHello").findIndex((i) => i.role === role);
    return Buffer.concat([...rec.prefix, ...flight5.slice(0, k + 1)]);
  };
  const hash = (b: Buffer) => createHash("sha256").update(b).digest();
  const clientRandom = rec.prefix[0]!.subarray(12 + 2, 12 + 34);
  const master = rec.ems
    ? prf(pms, label("extended master secret"), hash(upTo("ClientKeyExchange")), 48)
    : prf(pms, label("master secret"), Buffer.concat([clientRandom, rec.serverRandom]), 48);
  const keys = keysFromBlock(
    "aes-128-gcm",
    prf(master, label("key expansion"), Buffer.concat([rec.serverRandom, clientRandom]), 40),
    16,
    false,
  );
  const verify = prf(master, label("client finished"), hash(Buffer.concat([...rec.prefix, ...flight5])), 12);
  const recSeq = Buffer.from(fin.rec.subarray(5, 11)).readUIntBE(0, 6);
  const last = Math.max(...its.map((i) => (i.kind === "hs" ? i.seq : 0)));
  fin.rec = sealRecord(keys, 22, DTLS_1_2, 1, recSeq, message(20, last + 1, verify));
  return true;
}

/** One case: `ops` chosen at random (or given by name), applied by phase. */
export function makeCase(rec: Recording, r: R, opNames?: string[], reseal = !opNames && r.int(3) === 0): Case {
  const s: State = { r, rec, items: items(rec), dgs: [], wire: [], gaps: [], ops: [], reseal };
  let chosen: Op[];
  if (opNames) chosen = opNames.map((n) => OPS.find((o) => o.name === n)!);
  else {
    const total = OPS.reduce((a, o) => a + o.weight, 0);
    const n = 1 + r.int(3);
    chosen = [];
    for (let k = 0; k < n; k++) {
      let x = r.int(total);
      chosen.push(OPS.find((o) => (x -= o.weight) < 0)!);
    }
  }
  chosen = chosen.filter((o) => !reseal || !o.noReseal).sort((a, b) => a.phase - b.phase);
  const kinds = new Set<Kind>();
  let restores = false;
  const run = (phase: number) => {
    for (const op of chosen.filter((o) => o.phase === phase)) {
      const did = op.apply(s);
      if (did === false) continue;
      kinds.add(op.kind);
      restores ||= !!op.restores;
      s.ops.push(typeof did === "string" ? `${op.name}: ${did}` : op.name);
    }
  };
  run(1);
  if (reseal && resealFinished(rec, s.items)) s.ops.push("resealed Finished");
  // Two message-level ops may cancel out (a bit flipped twice): what counts is whether the messages differ.
  // Messages only after the Finished's message_seq added (not resealed): the ones the client MACed are intact.
  // Messages only after the Finished's message_seq added (not resealed), or a second message of the same
  // message_seq: the ones the client MACed may still be what the server takes.
  const whole = compare(items(rec), s.items, false),
    upTo = reseal ? whole : compare(items(rec), s.items, true);
  if (whole === "same") kinds.delete("tamper"), kinds.delete("lose");
  else if (upTo !== "differ") kinds.delete("tamper"), kinds.delete("lose"), kinds.add("hostile");
  // A CertificateVerify changed around an intact signature (the scheme, bytes after the signature) is
  // refused too (relay/dtls-server.ts checks the scheme against the key and takes no trailing bytes).
  frame(s);
  run(2);
  if (s.items.some((i) => i.kind === "hs" && i.frags)) frame(s); // refragmenting happened after the first framing
  run(3);
  s.wire = s.dgs.map((d) => Uint8Array.from(Buffer.concat(d)));
  run(4);
  s.gaps = s.wire.map(() => r.int(20));
  run(5);
  let now = 1000;
  const deliveries = s.wire.map((d, i) => ({ d, now: (now += s.gaps[i]!) }));
  const expect: Expect =
    kinds.has("tamper") || kinds.has("lose") ? (restores ? "any" : "never") : kinds.has("hostile") ? "any" : "complete";
  return { rec, ops: s.ops, expect, deliveries };
}

/** A case of the recording's messages changed by `edit` (ClientHello, Certificate, ClientKeyExchange,
 *  CertificateVerify: type, message_seq, body), framed as recorded; the Finished resealed or not. */
export function messagesCase(
  rec: Recording,
  edit: (m: { role: string; type: number; seq: number; body: Uint8Array }[]) => void,
  reseal = false,
  expect: Expect = "never",
): Case {
  const s: State = { r: rng(1), rec, items: items(rec), dgs: [], wire: [], gaps: [], ops: [], reseal };
  edit(hsItems(s));
  if (reseal) resealFinished(rec, s.items);
  frame(s);
  return { rec, ops: ["edited"], expect, deliveries: framed(s) };
}

/** The framed datagrams, 5 ms apart (as recorded, without the fuzzer's gaps). */
function framed(s: State): Delivery[] {
  let now = 1000;
  return s.dgs.map((d) => ({ d: Uint8Array.from(Buffer.concat(d)), now: (now += 5) }));
}

/** The recording with a copy of its CertificateVerify numbered `seq` in the same datagram right
 *  after it (the case the fuzzer once misjudged: a copy numbered below flight 5 is stale, the server
 *  drops it unread, and the handshake completes); `expect` as the fuzzer's oracle judges it. */
export function staleCopyCase(rec: Recording, seq: number): Case {
  const s: State = { r: rng(1), rec, items: items(rec), dgs: [], wire: [], gaps: [], ops: [], reseal: false };
  const i = s.items.findIndex((m) => m.kind === "hs" && m.role === "CertificateVerify");
  const cv = s.items[i] as Hs;
  s.items.splice(i + 1, 0, { ...cv, body: Uint8Array.from(cv.body), seq, role: "extra CertificateVerify" });
  frame(s);
  const c = compare(items(rec), s.items, true);
  return {
    rec,
    ops: [`a CertificateVerify again, numbered ${seq}`],
    expect: c === "same" ? "complete" : c === "maybe" ? "any" : "never",
    deliveries: framed(s),
  };
}

/** The recording's datagrams as they were (a clean replay). */
export function cleanCase(rec: Recording): Case {
  let now = 1000;
  return { rec, ops: [], expect: "complete", deliveries: rec.datagrams.map((d) => ({ d, now: (now += 5) })) };
}

/** Replays a case and judges it: the violations (empty when it behaved). */
export function judge(c: Case): { outcome: Outcome; violations: string[] } {
  const outcome = replay(c.rec, c.deliveries);
  const violations = [...outcome.violations];
  if (c.expect === "never" && outcome.result === "completed")
    violations.push("completed though signed or MACed bytes were changed or lost");
  if (c.expect === "complete" && outcome.result !== "completed")
    violations.push(
      `did not complete (${outcome.result}${outcome.fail ? `: ${outcome.fail}` : ""}; drops ${JSON.stringify(outcome.drops)})`,
    );
  return { outcome, violations };
}

export function describeCase(c: Case): string {
  return `${c.rec.name} [${c.ops.join("; ") || "clean"}] expect ${c.expect}; datagrams ${c.deliveries
    .map((d) => `${d.now}:${Buffer.from(d.d).toString("hex")}`)
    .join(" ")}`;
}

export interface FuzzResult {
  cases: number;
  seed: number;
  results: Record<Result, number>;
  byExpect: Record<Expect, Record<Result, number>>;
  ops: Record<string, number>;
  drops: Record<string, number>;
  fails: Record<string, number>;
  violations: number;
  /** the first few failing cases, described */
  failures: string[];
  maxCaseMs: number;
  maxRanges: number;
  seconds: number;
}

const zero = (): Record<Result, number> => ({ completed: 0, "failed-alert": 0, "failed-peer-alert": 0, stalled: 0 });

/** `cases` cases over the recordings, round robin; every tenth is a clean replay. */
export function fuzzDtls(
  recs: Recording[],
  cases: number,
  seed: number,
  progress?: (done: number) => void,
  maxFailures?: number,
): FuzzResult {
  const r = rng(seed);
  const res: FuzzResult = {
    cases,
    seed,
    results: zero(),
    byExpect: { complete: zero(), never: zero(), any: zero() },
    ops: {},
    drops: {},
    fails: {},
    violations: 0,
    failures: [],
    maxCaseMs: 0,
    maxRanges: 0,
    seconds: 0,
  };
  const t0 = performance.now();
  for (let i = 0; i < cases; i++) {
    const rec = recs[i % recs.length]!;
    const c = i % 10 === 0 ? cleanCase(rec) : makeCase(rec, r);
    const { outcome, violations } = judge(c);
    res.results[outcome.result]++;
    res.byExpect[c.expect][outcome.result]++;
    for (const o of c.ops) {
      const n = o.split(":")[0]!;
      res.ops[n] = (res.ops[n] ?? 0) + 1;
    }
    for (const [k, v] of Object.entries(outcome.drops)) res.drops[k] = (res.drops[k] ?? 0) + v;
    if (outcome.fail) {
      const k = outcome.fail.replace(/(alert|message) \d+$/, "$1 N");
      res.fails[k] = (res.fails[k] ?? 0) + 1;
    }
    res.maxCaseMs = Math.max(res.maxCaseMs, outcome.ms);
    res.maxRanges = Math.max(res.maxRanges, outcome.maxRanges);
    if (violations.length) {
      res.violations++;
      if (res.failures.length < (maxFailures ?? 5))
        res.failures.push(`case ${i}: ${violations.join(" | ")}\n  ${describeCase(c).slice(0, 4000)}`);
    }
    if (progress && i && i % 1000 === 0) progress(i);
  }
  res.seconds = (performance.now() - t0) / 1000;
  return res;
}
