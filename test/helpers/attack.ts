// Hostile traffic for relay tests and benches: spoofed sources on 127/8 (every 127.x.y.z is a local
// address on Linux, so a socket bound to one sends "from" it), valid-looking ICE checks, DTLS
// ClientHellos with or without a cookie, and handshake fragments that claim more than they carry.
import { createSocket, type Socket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { ATTR, CLASS, METHOD_BINDING, encodeStun } from "../../relay/stun.ts";

const ICE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
export const iceString = (n: number) => Array.from(randomBytes(n), (b) => ICE[b & 63]).join("");

/** A browser's ICE check (Binding request, USERNAME "A:B", ICE-CONTROLLING, PRIORITY, integrity keyed by A, FINGERPRINT). */
export function iceCheck(a = iceString(32), b = a): Uint8Array {
  return encodeStun(
    {
      method: METHOD_BINDING,
      cls: CLASS.REQUEST,
      txid: randomBytes(12),
      attrs: [
        { type: ATTR.USERNAME, value: new TextEncoder().encode(`${a}:${b}`) },
        { type: ATTR.ICE_CONTROLLING, value: randomBytes(8) },
        { type: ATTR.PRIORITY, value: Uint8Array.of(0x6e, 0x7f, 0x1e, 0xff) },
      ],
    },
    { integrityKey: new TextEncoder().encode(a), fingerprint: true },
  );
}

/** A DTLS 1.2 ClientHello record (RFC 6347 §4.2.1): whole, or its first `cut` body bytes as a first fragment. */
export function clientHello(random: Uint8Array, cookie: Uint8Array = new Uint8Array(0), cut?: number, recordSeq = 0): Uint8Array {
  const body = Uint8Array.from([0xfe, 0xfd, ...random, 0, cookie.length, ...cookie, 0, 2, 0xc0, 0x2b, 1, 0, ...randomBytes(200)]);
  const frag = body.subarray(0, cut ?? body.length);
  const hs = Uint8Array.from([
    1,
    0,
    body.length >> 8,
    body.length & 255,
    0,
    cookie.length ? 1 : 0,
    0,
    0,
    0,
    0,
    frag.length >> 8,
    frag.length & 255,
    ...frag,
  ]);
  return Uint8Array.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, recordSeq, hs.length >> 8, hs.length & 255, ...hs]);
}

/** The cookie in a HelloVerifyRequest record. */
export function cookieOf(hvr: Uint8Array): Uint8Array {
  const n = hvr[13 + 14]!;
  return hvr.slice(13 + 15, 13 + 15 + n);
}

/** 39 bytes: one handshake fragment (a Certificate) whose header claims a 16 MiB message. */
export function fragmentClaim(seq = 0): Uint8Array {
  const hs = [11, 0xff, 0xff, 0xff, 0, 2, 0, 0, 0, 0, 0, 14, ...randomBytes(14)];
  return Uint8Array.from([22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, seq & 255, 0, hs.length, ...hs]);
}

/** `n` UDP sockets bound to distinct loopback addresses 127.<net>.x.y (spoofed sources for tests). */
export async function spoofedSockets(n: number, net = 1): Promise<Socket[]> {
  const out: Socket[] = [];
  for (let i = 0; i < n; i++) {
    const s = createSocket("udp4");
    s.on("error", () => {});
    s.on("message", () => {}); // replies are read and dropped
    await new Promise<void>((r) => s.bind(0, `127.${net}.${(i >> 8) & 255}.${i & 255 || 1}`, () => r()));
    out.push(s);
  }
  return out;
}

/**
 * Send `make()` from the sockets in turn at about `pps` datagrams per second until stop() (batches
 * every 10 ms). Returns how many were sent.
 */
export function flood(socks: Socket[], port: number, make: (i: number) => Uint8Array, pps: number) {
  let sent = 0,
    stopped = false;
  const per = Math.max(1, Math.round(pps / 100));
  const timer = setInterval(() => {
    if (stopped) return;
    for (let k = 0; k < per; k++) socks[sent % socks.length]!.send(make(sent), port, "127.0.0.1"), sent++;
  }, 10);
  return {
    stop: () => ((stopped = true), clearInterval(timer), sent),
    get sent() {
      return sent;
    },
  };
}
