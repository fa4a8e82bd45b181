#!/usr/bin/env bun
// Layer-1 load generator for the capacity section: each session is a real client handshake on
// its own UDP socket (node:dgram) — ICE check (STUN Binding, USERNAME "R:<own ufrag>", MESSAGE-INTEGRITY
// keyed by R, ICE-CONTROLLING, FINGERPRINT; docs/protocol.md §1), DTLS + SCTP + DataChannel (relay/werift.ts
// createClientSession, the relay's own adapter, client side), then HELLO → WELCOME. Runs as a
// child process of bench/capacity.ts, driven by JSON lines on stdin, answering on stdout:
//   {"cmd":"open","n":N,"concurrency":C}  → {"opened":k,"failed":f,"ms":…,"errors":{…}}
//   {"cmd":"pairs","n":P,"seconds":S,"window":W,"bytes":B} → {"delivered":d,"sent":s,"ms":…}
//   {"cmd":"close"}                          → {"closed":k}
// Argv: HOST PORT FINGERPRINT.
import { createSocket, type Socket } from "node:dgram";
import { createClientSession, generateCertificate, type Certificate, type ChannelSession } from "../relay/werift.ts";
import { ATTR, encodeStun } from "../relay/stun.ts";
import { decode, encode, T } from "../protocol/frames.ts";

const [host, portS, fp] = process.argv.slice(2);
const port = Number(portS);
const ICE = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
const te = new TextEncoder();
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));

interface Sess { sock: Socket; s: ChannelSession; onFrame?: (f: ReturnType<typeof decode>) => void; closed: boolean }
const open: Sess[] = [];

function handshake(cert: Certificate, timeoutMs = 20000): Promise<Sess> {
  return new Promise((resolve, reject) => {
    const u = Array.from(rnd(32), (b) => ICE[b & 63]).join(""); // R, the key
    const own = Array.from(rnd(8), (b) => ICE[b & 63]).join(""); // this client's ufrag, as Firefox's
    const sock = createSocket("udp4");
    let sess: Sess | undefined;
    let done = false;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      try { sess?.s.close(); } catch {}
      try { sock.close(); } catch {}
      reject(new Error(why));
    };
    const timer = setTimeout(() => fail("timeout"), timeoutMs);
    sock.on("error", (e) => fail("socket: " + e.message));
    sock.on("message", (d: Buffer) => {
      const b0 = d[0];
      if (b0 <= 3) {
        if (sess || d[0] != 0x01 || d[1] != 0x01) return; // only the first Binding success response matters
        const s = createClientSession(cert, fp, {
          transmit: (dg) => sock.send(dg, port, host),
          onOpen: () => s.send(encode({ t: T.HELLO, min: 1, max: 1 })),
          onMessage: (m) => {
            const f = decode(m);
            if (!f) return;
            if (!done && f.t == T.WELCOME) { done = true; clearTimeout(timer); open.push(sess!); resolve(sess!); }
            else if (!done && f.t == T.ERROR) fail("relay error " + f.code);
            else sess!.onFrame?.(f);
          },
          onClose: (why) => { sess && (sess.closed = true); fail("closed: " + why); },
        });
        sess = { sock, s, closed: false };
      } else if (b0 >= 20 && b0 <= 63) sess?.s.receive(new Uint8Array(d.buffer, d.byteOffset, d.length));
    });
    sock.bind(0, "127.0.0.1", () => {
      const req = encodeStun({
        method: 1, cls: 0, txid: rnd(12),
        attrs: [{ type: ATTR.USERNAME, value: te.encode(`${u}:${own}`) }, { type: ATTR.ICE_CONTROLLING, value: rnd(8) }, { type: ATTR.USE_CANDIDATE, value: new Uint8Array(0) }],
      }, { integrityKey: te.encode(u), fingerprint: true });
      sock.send(req, port, host);
    });
  });
}

let shared: Certificate | undefined;
async function openMany(n: number, concurrency: number) {
  shared ??= await generateCertificate();
  const t0 = performance.now();
  let next = 0, ok = 0, failed = 0;
  const errors: Record<string, number> = {};
  await Promise.all(Array.from({ length: Math.min(concurrency, n) }, async () => {
    while (next < n) {
      next++;
      try { await handshake(shared!); ok++; } catch (e) { failed++; const k = String((e as Error).message).slice(0, 60); errors[k] = (errors[k] ?? 0) + 1; }
    }
  }));
  return { opened: ok, failed, ms: performance.now() - t0, errors };
}

/** P pairs, each with its own certificates (peer id = first 8 bytes of the fingerprint), one room per pair; each side keeps `window` SENDs in flight to the other for `seconds`. */
async function pairs(p: number, seconds: number, window: number, bytes: number) {
  const certs = await Promise.all(Array.from({ length: 2 * p }, () => generateCertificate()));
  const idOf = (c: Certificate) => Uint8Array.from(c.fingerprint.split(":").slice(0, 8).map((h) => parseInt(h, 16)));
  const sess = await Promise.all(certs.map((c) => handshake(c)));
  let delivered = 0, sent = 0, errs = 0;
  let running = true;
  const data = rnd(bytes);
  const joined: Promise<void>[] = [];
  for (let i = 0; i < p; i++) {
    const topic = rnd(16);
    const [a, b] = [sess[2 * i], sess[2 * i + 1]];
    const [ida, idb] = [idOf(certs[2 * i]), idOf(certs[2 * i + 1])];
    for (const [me, myId, peerId] of [[a, ida, idb], [b, idb, ida]] as const) {
      let inflight = 0;
      const pump = () => { while (running && inflight < window) { if (!me.s.send(encode({ t: T.SEND, topic, to: peerId, data }))) return; inflight++, sent++; } };
      let ready!: () => void;
      joined.push(new Promise((r) => (ready = r)));
      me.onFrame = (f) => {
        if (!f) return;
        if (f.t == T.MEMBERS || f.t == T.JOINED) ready();
        // The peer's DELIVER of our SEND is counted by the peer; we count the ones we receive and
        // treat each as the peer's credit back to us as well (symmetric load keeps both windows full).
        else if (f.t == T.DELIVER) { delivered++; inflight = Math.max(0, inflight - 1); pump(); }
        else if (f.t == T.ERROR) errs++;
      };
      me.s.send(encode({ t: T.JOIN, topic, id: myId }));
      (me as any).pump = pump;
    }
  }
  await Promise.race([Promise.all(joined), Bun.sleep(10000)]);
  const t0 = performance.now();
  const d0 = delivered;
  for (const s of sess) (s as any).pump();
  // Refill windows periodically too, in case a DELIVER was dropped by a rate limit.
  const tick = setInterval(() => { for (const s of sess) (s as any).pump(); }, 5);
  await Bun.sleep(seconds * 1000);
  running = false;
  clearInterval(tick);
  const ms = performance.now() - t0;
  return { delivered: delivered - d0, sent, errors: errs, ms };
}

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
let buf = "";
for await (const chunk of process.stdin) {
  buf += new TextDecoder().decode(chunk as Uint8Array);
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    if (m.cmd == "open") out(await openMany(m.n, m.concurrency ?? 50));
    else if (m.cmd == "pairs") out(await pairs(m.n, m.seconds, m.window, m.bytes));
    else if (m.cmd == "close") {
      for (const s of open) { try { s.s.close(); } catch {} try { s.sock.close(); } catch {} }
      out({ closed: open.length });
      process.exit(0);
    }
  }
}
