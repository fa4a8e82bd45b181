#!/usr/bin/env bun
// Layer-1 load generator for the capacity section: each session is a real client handshake on
// its own UDP socket (node:dgram) — ICE checks (STUN Binding, USERNAME "R:<own ufrag>", MESSAGE-INTEGRITY
// keyed by R, ICE-CONTROLLING, FINGERPRINT; docs/protocol.md §1) resent until answered as a browser
// does, DTLS + SCTP + DataChannel (the relay's own adapter, client side: relay/session.ts), then
// HELLO → WELCOME. Once open, a session behaves like an idle page: an ICE consent check every
// `consentMs` (±20 %, Chromium's measured rate is one per ~2.7 s: bench/RESULTS.md, layer1), the
// SCTP heartbeats of the association (every 30 s, as Chromium's), and a PING after `pingMs` of
// silence (src/link.ts's liveness scheme; 0 = none). Runs as a child process of bench/capacity.ts,
// driven by JSON lines on stdin, answering on stdout:
//   {"cmd":"open","n":N,"concurrency":C}  → {"opened":k,"failed":f,"ms":…,"p50":…,"p95":…,"max":…,"errors":{…}}
//   {"cmd":"drop"}                           → {"closed":k}  (closes every session, keeps running)
//   {"cmd":"pairs","n":P,"seconds":S,"window":W,"bytes":B} → {"delivered":d,"sent":s,"ms":…}
//   {"cmd":"close"}                          → {"closed":k}, then exits
// Argv: HOST PORT FINGERPRINT [consentMs [pingMs]].
import { createSocket, type Socket } from "node:dgram";
import { createClientSession, type ChannelSession } from "../relay/session.ts";
import { generateCertificate, type Certificate } from "../relay/cert.ts";
import { CHECK_SCHEDULE, closeWithGoodbyes, encodeCheck } from "../relay/client.ts";
import { decode, encode, T, VERSION } from "../protocol/frames.ts";
import { randomUfrag } from "../protocol/addr.ts";
import { PING_ANSWER_MS } from "../src/link.ts";

const [host, portS, fp, consentS, pingS] = process.argv.slice(2);
const port = Number(portS);
const CONSENT_MS = Number(consentS ?? 2700),
  PING_MS = Number(pingS ?? 0);
const te = new TextEncoder();
const rnd = (n: number) => crypto.getRandomValues(new Uint8Array(n));
/** Gaps between unanswered ICE checks (ms): relay/client.ts's, then every 1.6 s. */
const CHECKS = CHECK_SCHEDULE;

interface Sess {
  sock: Socket;
  s: ChannelSession;
  onFrame?: (f: ReturnType<typeof decode>) => void;
  closed: boolean;
  timer?: ReturnType<typeof setTimeout>;
  beat?: ReturnType<typeof setTimeout>;
  rx: number;
  pinged: number;
}
const open = new Set<Sess>();

function closeSess(x: Sess) {
  if (x.closed) return;
  x.closed = true;
  clearTimeout(x.timer), clearTimeout(x.beat);
  open.delete(x);
  closeWithGoodbyes(x.s, x.sock);
}

function handshake(cert: Certificate, timeoutMs = 20000): Promise<Sess> {
  return new Promise((resolve, reject) => {
    const u = randomUfrag(); // R, the key
    const own = randomUfrag().slice(0, 8); // this client's ufrag, as Firefox's
    const sock = createSocket("udp4");
    let sess: Sess | undefined, session: ChannelSession | undefined;
    let done = false,
      answered = false,
      n = 0;
    const check = () => sock.send(encodeCheck(`${u}:${own}`, te.encode(u)), port, host);
    let checks: ReturnType<typeof setTimeout> | undefined;
    const fail = (why: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer), clearTimeout(checks);
      // Settle first: a close that throws (a socket that never bound) must not leave openMany waiting.
      reject(new Error(why));
      try {
        if (sess) closeSess(sess);
        else closeWithGoodbyes(session, sock);
      } catch {}
    };
    const timer = setTimeout(() => fail(answered ? "timeout after ICE" : "timeout: ICE checks unanswered"), timeoutMs);
    sock.on("error", () => {});
    sock.on("message", (d: Buffer) => {
      const b0 = d[0]!;
      if (b0 <= 3) {
        if (answered || d[0] !== 0x01 || d[1] !== 0x01) return; // only the first Binding success response starts DTLS
        answered = true;
        clearTimeout(checks);
        session = createClientSession(cert, fp!, {
          transmit: (dg) => sock.send(dg, port, host),
          onOpen: () => session!.send(encode({ t: T.HELLO, min: VERSION, max: VERSION })),
          onMessage: (m) => {
            if (sess) sess.rx = performance.now();
            const f = decode(m);
            if (!f) return;
            if (!done && f.t === T.WELCOME) {
              done = true;
              clearTimeout(timer);
              open.add(sess!);
              idle(sess!, check);
              resolve(sess!);
            } else if (!done && f.t === T.ERROR) fail("relay error " + f.code);
            else sess!.onFrame?.(f);
          },
          onClose: (why) => (done ? sess && closeSess(sess) : fail("closed: " + why)),
        });
        sess = { sock, s: session, closed: false, rx: performance.now(), pinged: 0 };
      } else if (b0 >= 20 && b0 <= 63) session?.receive(new Uint8Array(d.buffer, d.byteOffset, d.length));
    });
    sock.bind(0, "127.0.0.1", () => {
      const next = () => {
        if (answered || done) return;
        check();
        checks = setTimeout(next, CHECKS[Math.min(n++, CHECKS.length - 1)]);
      };
      next();
    });
  });
}

/** An open session's idle life: consent checks, and PINGs per src/link.ts (checked every 200 ms, as there). */
function idle(x: Sess, check: () => void) {
  const consent = () => {
    if (x.closed) return;
    check();
    x.timer = setTimeout(consent, CONSENT_MS * (0.8 + 0.4 * Math.random()));
  };
  x.timer = setTimeout(consent, CONSENT_MS * Math.random());
  if (PING_MS <= 0) return;
  const beat = () => {
    if (x.closed) return;
    const now = performance.now();
    if (x.pinged && x.rx < x.pinged && now - x.pinged > PING_ANSWER_MS) return closeSess(x);
    if (now - x.rx > PING_MS && !(x.pinged > x.rx)) (x.pinged = now), x.s.send(encode({ t: T.PING, data: new Uint8Array(0) }));
    x.beat = setTimeout(beat, Math.max(200, PING_MS / 4)); // link.ts looks every 200 ms; rarer here when pings are rare (10,000 sessions)
  };
  // As a page idle for a while: each session's first PING comes at a random point of the PING
  // period, so the PINGs are spread evenly from the start and a measured window sees the steady rate.
  x.beat = setTimeout(() => {
    if (x.closed) return;
    (x.pinged = performance.now()), x.s.send(encode({ t: T.PING, data: new Uint8Array(0) }));
    x.beat = setTimeout(beat, Math.max(200, PING_MS / 4));
  }, Math.random() * PING_MS);
}

let shared: Certificate | undefined;
async function openMany(n: number, concurrency: number) {
  shared ??= await generateCertificate();
  const t0 = performance.now();
  let next = 0,
    ok = 0,
    failed = 0;
  const errors: Record<string, number> = {},
    ms: number[] = [];
  await Promise.all(
    Array.from({ length: Math.min(concurrency, n) }, async () => {
      while (next < n) {
        next++;
        const t = performance.now();
        try {
          await handshake(shared!);
          ok++;
          ms.push(performance.now() - t);
        } catch (e) {
          failed++;
          const k = String((e as Error).message).slice(0, 60);
          errors[k] = (errors[k] ?? 0) + 1;
        }
      }
    }),
  );
  ms.sort((a, b) => a - b);
  const q = (p: number) => (ms.length ? Math.round(ms[Math.min(ms.length - 1, Math.ceil(p * ms.length) - 1)]!) : NaN);
  return { opened: ok, failed, ms: performance.now() - t0, p50: q(0.5), p95: q(0.95), max: q(1), errors, held: open.size };
}

/** P pairs, each with its own certificates (peer id = first 8 bytes of the fingerprint), one room per pair; each side keeps `window` SENDs in flight to the other for `seconds`. */
async function pairs(p: number, seconds: number, window: number, bytes: number) {
  const certs = await Promise.all(Array.from({ length: 2 * p }, () => generateCertificate()));
  const idOf = (c: Certificate) =>
    Uint8Array.from(
      c.fingerprint
        .split(":")
        .slice(0, 8)
        .map((h) => parseInt(h, 16)),
    );
  // Sessions that fail to open leave their pair out (counted in `failed`).
  const got = await Promise.allSettled(certs.map((c) => handshake(c)));
  const failed = got.filter((g) => g.status === "rejected").length;
  const sess = got.map((g) => (g.status === "fulfilled" ? g.value : undefined));
  let delivered = 0,
    sent = 0,
    errs = 0;
  let running = true;
  const data = rnd(bytes);
  const joined: Promise<void>[] = [];
  const pumps: (() => void)[] = [];
  for (let i = 0; i < p; i++) {
    const topic = rnd(16);
    const [a, b] = [sess[2 * i], sess[2 * i + 1]];
    if (!a || !b) continue;
    const [ida, idb] = [idOf(certs[2 * i]!), idOf(certs[2 * i + 1]!)];
    for (const [me, myId, peerId] of [
      [a, ida, idb],
      [b, idb, ida],
    ] as const) {
      let inflight = 0;
      const pump = () => {
        while (running && inflight < window) {
          if (!me.s.send(encode({ t: T.SEND, topic, to: peerId, data }))) return;
          inflight++, sent++;
        }
      };
      let ready!: () => void;
      joined.push(new Promise((r) => (ready = r)));
      me.onFrame = (f) => {
        if (!f) return;
        if (f.t === T.MEMBERS || f.t === T.JOINED) ready();
        // The peer's DELIVER of our SEND is counted by the peer; we count the ones we receive and
        // treat each as the peer's credit back to us as well (symmetric load keeps both windows full).
        else if (f.t === T.DELIVER) {
          delivered++;
          inflight = Math.max(0, inflight - 1);
          pump();
        } else if (f.t === T.ERROR) errs++;
      };
      me.s.send(encode({ t: T.JOIN, topic, id: myId }));
      pumps.push(pump);
    }
  }
  await Promise.race([Promise.all(joined), Bun.sleep(10000)]);
  const t0 = performance.now();
  const d0 = delivered;
  for (const f of pumps) f();
  // Refill windows periodically too, in case a DELIVER was dropped by a rate limit.
  const tick = setInterval(() => {
    for (const f of pumps) f();
  }, 5);
  await Bun.sleep(seconds * 1000);
  running = false;
  clearInterval(tick);
  const ms = performance.now() - t0;
  for (const s of sess) if (s) closeSess(s);
  return { delivered: delivered - d0, sent, errors: errs, failed, ms };
}

function dropAll() {
  const k = open.size;
  for (const s of [...open]) closeSess(s);
  return { closed: k };
}

const out = (o: unknown) => process.stdout.write(JSON.stringify(o) + "\n");
let buf = "";
for await (const chunk of process.stdin) {
  buf += new TextDecoder().decode(chunk as Uint8Array);
  let i;
  while ((i = buf.indexOf("\n")) >= 0) {
    const m = JSON.parse(buf.slice(0, i));
    buf = buf.slice(i + 1);
    if (m.cmd === "open") out(await openMany(m.n, m.concurrency ?? 50));
    else if (m.cmd === "drop") out(dropAll());
    else if (m.cmd === "pairs") out(await pairs(m.n, m.seconds, m.window, m.bytes));
    else if (m.cmd === "close") {
      const r = dropAll();
      await Bun.sleep(50);
      out(r);
      process.exit(0);
    }
  }
}
