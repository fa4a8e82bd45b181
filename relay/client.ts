// The client side of Layer 1 in Bun: what a browser does, done with werift, for relay-to-relay
// gossip and load generators. One UDP socket per link: ICE check (USERNAME "R:<own ufrag>", integrity
// keyed by R, as a browser's check against the answer it wrote; docs/protocol.md §1) → DTLS client
// verifying the relay's fingerprint → SCTP → channel 0 → HELLO/WELCOME.
import { createSocket } from "node:dgram";
import { randomBytes } from "node:crypto";
import { encodeStun, ATTR } from "./stun.ts";
import { createClientSession, type ChannelSession } from "./session.ts";
import type { Certificate } from "./cert.ts";
import { T, VERSION, decode, encode, type Frame } from "../protocol/frames.ts";
import { parseAddr, randomUfrag } from "../protocol/addr.ts";

export interface RelayLink {
  relay: { addr: string; fp: string };
  /** RECORDS the relay sent before WELCOME (JSON text), if any. */
  records: string | null;
  maxFrame: number;
  send(f: Frame): boolean;
  onframe: (f: Frame) => void;
  onclose: (why: string) => void;
  close(): void;
  /** Stop without a word to the relay (no ABORT, no close_notify, no more checks): what a killed
   *  process looks like from the relay. The socket is closed unless the caller keeps it. */
  detach(): void;
  /** The local UDP port of the link. */
  readonly port: number;
  /** The DTLS/SCTP session under the link, once the handshake started (tests that send crafted packets inside it). */
  readonly session: ChannelSession | undefined;
}

export interface ClientOptions {
  /** Give up after this many ms (default 5000). */
  timeout?: number;
  /** Ping after this much silence and declare the link dead when a ping goes unanswered as long (default 2000). */
  liveness?: number;
  /** Consent checks once the link is up, this often (ms; default 2500, a browser's pace). */
  consentMs?: number;
  /** Local address and port to bind (default: any), with SO_REUSEADDR when asked (tests that send
   *  from a live link's own address). */
  bind?: { address?: string; port?: number; reuseAddr?: boolean };
}

/** Closes a session (its goodbyes: SCTP ABORT, close_notify), then its socket on the next turn:
 *  Bun drops datagrams still queued on a socket closed in the same turn, and the relay would keep
 *  the session until its idle timeout. Errors of either are not the caller's concern. */
export function closeWithGoodbyes(session: ChannelSession | undefined, sock: { close(): void }) {
  try {
    session?.close();
  } catch {}
  setImmediate(() => {
    try {
      sock.close();
    } catch {}
  });
}

const CONSENT_MS = 2500;
/** Gaps between ICE checks until one is answered (ms): 6 checks over 3.1 s, then none. Bounds what
 *  dialing an address that does not answer sends it (relay/gossip.ts PROBE_COST). */
export const CHECK_SCHEDULE = [100, 200, 400, 800, 1600];

/** A check as this client sends it: USERNAME "R:own" (R 32 characters, own 8), integrity keyed by R. */
export function encodeCheck(username: string, key: Uint8Array): Uint8Array {
  return encodeStun(
    {
      method: 1,
      cls: 0,
      txid: randomBytes(12),
      attrs: [
        { type: ATTR.USERNAME, value: new TextEncoder().encode(username) },
        { type: ATTR.ICE_CONTROLLING, value: randomBytes(8) },
        { type: ATTR.PRIORITY, value: Uint8Array.of(0x6e, 0, 0x1e, 0xff) },
        { type: ATTR.USE_CANDIDATE, value: new Uint8Array(0) },
      ],
    },
    { integrityKey: key, fingerprint: true },
  );
}

/** IPv4 and UDP headers: what a datagram costs on the wire beyond its payload. */
const UDP_IP_HEADERS = 28;
/** The most a link to an address that never answers sends it, headers included: one check at start
 *  and one per CHECK_SCHEDULE gap. */
export const MAX_PROBE_BYTES =
  (CHECK_SCHEDULE.length + 1) * (encodeCheck(`${"x".repeat(32)}:${"y".repeat(8)}`, new Uint8Array(32)).length + UDP_IP_HEADERS);

/** Open a Layer-1 link to a relay; resolves on WELCOME, rejects with a reason. */
export function openRelayLink(relay: { addr: string; fp: string }, cert: Certificate, o: ClientOptions = {}): Promise<RelayLink> {
  const a = parseAddr(relay.addr);
  if (!a) return Promise.reject(new Error(`client: bad relay address ${JSON.stringify(relay.addr)}`));
  const sock = createSocket({ type: a.v6 ? "udp6" : "udp4", reuseAddr: !!o.bind?.reuseAddr });
  // R: the relay's ufrag and password in the answer a browser would write; the second half is
  // this client's own ufrag (8 ice-chars, as Firefox's), which an ICE-lite relay never uses.
  const r = randomUfrag();
  const key = new TextEncoder().encode(r);
  const username = `${r}:${randomUfrag().slice(0, 8)}`;
  let session: ChannelSession | undefined;
  let done = false;
  let giveUp: ReturnType<typeof setTimeout> | undefined, ticker: ReturnType<typeof setTimeout> | undefined;
  let rx = Date.now(),
    pinged = 0;
  const link: RelayLink = {
    relay,
    records: null,
    maxFrame: 0,
    send: (f) => !!session && session.send(encode(f)),
    get session() {
      return session;
    },
    onframe: () => {},
    onclose: () => {},
    close: () => finish("closed locally"),
    detach: () => {
      if (done) return;
      done = true;
      clearTimeout(giveUp);
      clearTimeout(ticker);
      sock.removeAllListeners("message");
      try {
        sock.close();
      } catch {}
    },
    get port() {
      return sock.address().port;
    },
  };
  const finish = (why: string) => {
    if (done) return;
    done = true;
    clearTimeout(giveUp);
    clearTimeout(ticker);
    closeWithGoodbyes(session, sock);
    link.onclose(why);
  };
  const check = () => sock.send(encodeCheck(username, key), a.port, a.ip);

  return new Promise<RelayLink>((resolve, reject) => {
    const fail = (why: string) => {
      if (!done) reject(new Error(`${relay.addr}: ${why}`));
      finish(why);
    };
    const ms = o.timeout ?? 5000;
    giveUp = setTimeout(() => fail(session ? "no WELCOME in time" : `no answer to ICE checks within ${ms} ms`), ms);
    sock.on("error", () => {}); // ECONNREFUSED when the relay is gone: the timeout or liveness decides
    sock.on("message", (m) => {
      const b = new Uint8Array(m.buffer, m.byteOffset, m.byteLength);
      rx = Date.now();
      if (b[0] <= 3) {
        // A check answered: start DTLS (once).
        if (session) return;
        session = createClientSession(cert, relay.fp, {
          transmit: (d) => sock.send(d, a.port, a.ip),
          onOpen: () => session!.send(encode({ t: T.HELLO, min: VERSION, max: VERSION })),
          onMessage: (msg) => {
            rx = Date.now();
            const f = decode(msg);
            if (!f) return;
            if (link.maxFrame) return link.onframe(f);
            if (f.t === T.RECORDS) link.records = f.json;
            else if (f.t === T.WELCOME) {
              link.maxFrame = f.maxFrame;
              clearTimeout(giveUp);
              resolve(link);
            } else if (f.t === T.ERROR) fail(`relay refused: ${f.message} (${f.code})`);
          },
          onClose: (why) => fail(why),
        });
      } else if (b[0] >= 20 && b[0] <= 63) session?.receive(b);
    });
    sock.bind(o.bind?.port ?? 0, o.bind?.address, () => {
      check();
      // Checks: backing off until answered (CHECK_SCHEDULE), then as consent every 2.5 s; a ping when the relay is quiet.
      let n = 0;
      const tick = () => {
        if (done) return;
        if (session || n < CHECK_SCHEDULE.length) check();
        const now = Date.now(),
          live = o.liveness ?? 2000;
        if (link.maxFrame) {
          if (pinged && rx < pinged && now - pinged > live) return finish("relay stopped answering");
          if (now - rx > live && !(pinged > rx)) (pinged = now), link.send({ t: T.PING, data: new Uint8Array(0) });
        }
        ticker = setTimeout(tick, session ? (o.consentMs ?? CONSENT_MS) : CHECK_SCHEDULE[Math.min(++n, CHECK_SCHEDULE.length - 1)]);
      };
      ticker = setTimeout(tick, CHECK_SCHEDULE[0]);
    });
  });
}
