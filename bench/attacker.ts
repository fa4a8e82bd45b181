#!/usr/bin/env bun
// Hostile traffic for the attack section (bench/attack.ts), as its own process so that it cannot
// stall the bench's event loop: floods from spoofed 127/8 sources (every 127.x.y.z is local on
// Linux, so a socket bound to one sends from it; test/helpers/attack.ts builds the datagrams),
// paced to a target rate, and what the relay sends back to those sources, counted.
// Argv: RELAY_PORT RELAY_FINGERPRINT. JSON lines on stdin, one answer line each on stdout:
//   {"cmd":"start","kind":"checks"|"junk"|"fragments","pps":N} → {"sources":k,"nets":m,"live":l}
//   {"cmd":"stop"}    → {"sent":n,"ms":t,"replies":r,"replyBytes":b,"sendErrors":e,"live":{…}}
//   {"cmd":"budget","kind":"checks"|"hellos"|"binding"|"errors","pps":N,"seconds":S,"net":K}
//                     → {"sent":n,"ms":t,"perSecond":[replies in each second],"bytes":b}
//   {"cmd":"close"}   → {"closed":true}
// Kinds: checks = valid ICE checks (USERNAME A:A, integrity keyed by A, FINGERPRINT), each with
// its own key; junk = random datagrams in every first-byte range (RFC 7983: STUN, unassigned,
// DTLS, above), some shaped to pass the first parser checks; fragments = 39-byte handshake
// fragments claiming a 16 MiB message at a random offset and cookieless ClientHellos from spoofed
// sources, and the same fragments from inside live handshaking sessions (addresses that did the
// cookie exchange, so the relay made them a session; flight 5 is never sent).
import { createSocket, type Socket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { crc32 } from "node:zlib";
import { clientHello, iceCheck } from "../test/helpers/attack.ts";
import { CLASS, METHOD_BINDING, encodeStun } from "../relay/stun.ts";
import { createClientSession, generateCertificate, type ChannelSession } from "../relay/werift.ts";

const [portS, fp] = process.argv.slice(2);
const PORT = Number(portS),
  HOST = "127.0.0.1";
const POOL = 4096;

let replies = 0,
  replyBytes = 0,
  sendErrors = 0;
const onReply = (m: Buffer) => (replies++, (replyBytes += m.length));

/** A socket bound to `addr`, counting what it receives. */
function bound(addr: string, onMsg: (m: Buffer) => void = onReply): Promise<Socket> {
  return new Promise((res, rej) => {
    const s = createSocket("udp4");
    s.on("error", () => sendErrors++);
    s.on("message", onMsg);
    s.once("listening", () => res(s));
    try {
      s.bind(0, addr);
    } catch (e) {
      rej(e);
    }
  });
}

/** Spoofed sources: 4 addresses in each of 256 /24s (127.1.j.1–4), so per-network budgets see ~40 pps each at 10k pps. */
let spread: Socket[] | undefined;
async function spreadSources(): Promise<Socket[]> {
  if (spread) return spread;
  const out: Socket[] = [];
  for (let j = 0; j < 256; j++) for (let i = 1; i <= 4; i++) out.push(await bound(`127.1.${j}.${i}`));
  return (spread = out);
}

// ---------------------------------------------------------------------------------------------
// Datagrams

/** A plain STUN Binding request: 20 bytes, no attributes. */
const binding = () => encodeStun({ method: METHOD_BINDING, cls: CLASS.REQUEST, txid: randomBytes(12), attrs: [] });

/** A check whose MESSAGE-INTEGRITY is wrong (answered 401). */
function badCheck(): Uint8Array {
  const d = iceCheck();
  const mi = d.length - 8 - 20; // the HMAC: before FINGERPRINT's 8 bytes; refresh FINGERPRINT after
  d[mi] ^= 0xff;
  const crc = (crc32(d.subarray(0, d.length - 8)) ^ 0x5354554e) >>> 0;
  new DataView(d.buffer, d.byteOffset).setUint32(d.length - 4, crc);
  return d;
}

const r = (n: number) => Math.floor(Math.random() * n);
/** Junk in every first-byte range; a third of it shaped to get past the first checks of a parser. */
function junk(): Uint8Array {
  const kind = r(9);
  const len = 1 + r(300);
  const d = randomBytes(Math.max(len, 24));
  switch (kind) {
    case 0:
      d[0] = r(4);
      break; // STUN range, random
    case 1: {
      // STUN range with the magic cookie and a consistent length: attribute parser
      d[0] = r(2);
      d[2] = ((d.length - 20) >> 8) & 0xff;
      d[3] = (d.length - 20) & 0xfc;
      const n = 20 + ((d[2]! << 8) | d[3]!);
      d.writeUInt32BE(0x2112a442, 4);
      return d.subarray(0, n);
    }
    case 2:
      d[0] = 4 + r(16);
      break; // unassigned (4..19)
    case 3:
      d[0] = 20 + r(44);
      break; // DTLS range, random
    case 4: {
      // a DTLS handshake record header (epoch 0) with a random body: record and handshake parsers
      d[0] = 22;
      d[1] = 0xfe;
      d[2] = 0xfd;
      d[3] = 0;
      d[4] = 0;
      const body = d.length - 13;
      d[11] = body >> 8;
      d[12] = body & 255;
      d[13] = 1 + r(20);
      return d;
    }
    case 5:
      d[0] = 23;
      d[1] = 0xfe;
      d[2] = 0xfd;
      break; // application data
    case 6:
      d[0] = 64 + r(64);
      break; // RTP/RTCP, TURN channels and above
    case 7:
      d[0] = 128 + r(64);
      break;
    default:
      d[0] = 192 + r(64);
  }
  return d.subarray(0, len);
}

/** 39 bytes: a Certificate fragment claiming 16 MiB, at a random offset, record sequence `seq`. */
function fragment(seq: number): Uint8Array {
  const off = r(0xffffff - 14);
  const d = new Uint8Array(39);
  d.set([22, 0xfe, 0xfd, 0, 0]);
  new DataView(d.buffer).setUint32(7, seq >>> 0);
  d[12] = 26;
  d.set([11, 0xff, 0xff, 0xff, 0, 2, off >> 16, (off >> 8) & 255, off & 255, 0, 0, 14], 13);
  d.set(randomBytes(14), 25);
  return d;
}

const pools: Record<string, Uint8Array[]> = {};
const pool = (name: string, make: (i: number) => Uint8Array) => (pools[name] ??= Array.from({ length: POOL }, (_, i) => make(i)));

// ---------------------------------------------------------------------------------------------
// Live handshaking sessions: a real DTLS client (relay/werift.ts) whose first two flights go out
// (ClientHello, then ClientHello with the relay's cookie); when the relay's ServerHello flight
// arrives, the relay holds a session for this address. Nothing more is sent, so it stays in
// handshake until the relay times it out; a new handshake every 8 s keeps one there.

interface Live {
  sock: Socket;
  session?: ChannelSession;
  live: boolean;
  seq: number;
  made: number;
}
const lives: Live[] = [];
let liveTimer: ReturnType<typeof setInterval> | undefined;
let cert: Awaited<ReturnType<typeof generateCertificate>> | undefined;
const liveStats = { handshakes: 0, established: 0 };

function handshake(l: Live) {
  try {
    l.session?.close();
  } catch {}
  l.live = false;
  let out = 0;
  liveStats.handshakes++;
  const s = createClientSession(cert!, fp!, {
    transmit: (d) => {
      if (out++ < 2 && l.session === s) l.sock.send(d, PORT, HOST);
    },
    onOpen: () => {},
    onMessage: () => {},
    onClose: () => {},
  });
  l.session = s;
  l.made = Date.now();
}

async function startLive(n: number) {
  cert ??= await generateCertificate();
  for (let k = 0; k < n; k++) {
    const l: Live = { sock: undefined as unknown as Socket, live: false, seq: 1000, made: 0 };
    l.sock = await bound(`127.2.${k}.1`, (m) => {
      onReply(m);
      if (m[0] === 22 && l.session && !l.live && m.length > 60) {
        // HelloVerifyRequest (44 bytes) goes to the client so it sends the cookie; anything bigger is the server flight.
        l.live = true;
        liveStats.established++;
      } else if (m[0] === 22 && l.session && !l.live) l.session.receive(new Uint8Array(m.buffer, m.byteOffset, m.byteLength));
    });
    lives.push(l);
    handshake(l);
  }
  liveTimer = setInterval(() => {
    for (const l of lives) if (Date.now() - l.made > 8000) handshake(l);
  }, 500);
}
function stopLive() {
  clearInterval(liveTimer);
  for (const l of lives.splice(0)) {
    try {
      l.session?.close();
    } catch {}
    l.sock.close();
  }
}

// ---------------------------------------------------------------------------------------------
// Pacing: every 5 ms, send what the target rate says is due (at most 20 ms' worth, so a stalled
// process falls behind honestly instead of bursting).

function pace(pps: number, send: (i: number) => void) {
  let sent = 0;
  const t0 = performance.now();
  const cap = Math.max(1, Math.ceil(pps / 50));
  const timer = setInterval(() => {
    const due = Math.floor(((performance.now() - t0) / 1000) * pps);
    for (let k = 0; k < Math.min(cap, due - sent); k++) send(sent++);
  }, 5);
  return { stop: () => (clearInterval(timer), { sent, ms: performance.now() - t0 }) };
}

let running: { stop: () => { sent: number; ms: number } } | undefined;

async function start(kind: string, pps: number) {
  replies = replyBytes = sendErrors = 0;
  liveStats.handshakes = liveStats.established = 0;
  const socks = await spreadSources();
  const S = socks.length;
  if (kind === "checks") {
    const p = pool("checks", () => iceCheck());
    running = pace(pps, (i) => socks[i % S]!.send(p[i % POOL]!, PORT, HOST));
  } else if (kind === "junk") {
    const p = pool("junk", junk);
    running = pace(pps, (i) => socks[(i * 7) % S]!.send(p[i % POOL]!, PORT, HOST));
  } else if (kind === "fragments") {
    const hellos = pool("hellos", () => clientHello(randomBytes(32)));
    const frags = pool("fragments", (i) => fragment(i));
    await startLive(16);
    running = pace(pps, (i) => {
      const k = i % 3;
      const live = k === 2 ? lives[((i / 3) | 0) % lives.length] : undefined;
      if (live?.live) live.sock.send(fragment(live.seq++), PORT, HOST);
      else socks[i % S]!.send(k === 0 ? hellos[i % POOL]! : frags[i % POOL]!, PORT, HOST);
    });
  } else throw new Error(`attacker: unknown kind ${kind}`);
  return { sources: S + lives.length, nets: 256 + lives.length, live: lives.filter((l) => l.live).length };
}

function stop() {
  const r = running?.stop() ?? { sent: 0, ms: 0 };
  running = undefined;
  const live = { sessions: lives.length, handshakes: liveStats.handshakes, established: liveStats.established };
  stopLive();
  return { ...r, replies, replyBytes, sendErrors, live };
}

/** Flood from 254 addresses of one /24 (127.70.K.1–254) and count the replies it gets, per second. */
async function budget(kind: string, pps: number, seconds: number, net: number) {
  const perSecond: number[] = Array(seconds).fill(0);
  let t1 = Infinity;
  let bytes = 0;
  const socks: Socket[] = [];
  for (let i = 1; i <= 254; i++)
    socks.push(
      await bound(`127.70.${net}.${i}`, (m) => {
        const s = Math.floor((performance.now() - t1) / 1000);
        if (s >= 0 && s < seconds) perSecond[s]!++, (bytes += m.length);
      }),
    );
  const make = { checks: () => iceCheck(), hellos: () => clientHello(randomBytes(32)), binding, errors: badCheck }[kind];
  if (!make) throw new Error(`attacker: unknown budget kind ${kind}`);
  const p = Array.from({ length: POOL }, make);
  t1 = performance.now();
  const f = pace(pps, (i) => socks[i % socks.length]!.send(p[i % POOL]!, PORT, HOST));
  await Bun.sleep(seconds * 1000);
  const res = f.stop();
  await Bun.sleep(200);
  for (const s of socks) s.close();
  return { ...res, perSecond, bytes };
}

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
let buf = "";
for await (const chunk of process.stdin) {
  buf += new TextDecoder().decode(chunk as Uint8Array);
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    try {
      if (m.cmd === "start") out(await start(m.kind, m.pps));
      else if (m.cmd === "stop") out(stop());
      else if (m.cmd === "budget") out(await budget(m.kind, m.pps, m.seconds, m.net ?? 0));
      else if (m.cmd === "close") {
        stopLive();
        for (const s of spread ?? []) s.close();
        out({ closed: true });
        process.exit(0);
      }
    } catch (e) {
      out({ error: String(e) });
    }
  }
}
