// A server and a client session of relay/werift.ts joined by an in-memory datagram pipe (delivery
// on setTimeout(0), like a socket: never re-entrant), with the relay core's cookie exchange in front
// of the server as relay/core.ts does it. Used by test/relay/werift*.test.ts.
import { Cookies } from "../../relay/cookie.ts";
import { findClientHello, helloVerifyRequest } from "../../relay/dtls-records.ts";
import {
  createClientSession,
  createServerSession,
  generateCertificate,
  type Certificate,
  type ChannelSession,
  type SessionLimits,
} from "../../relay/werift.ts";

export interface Side {
  session: ChannelSession;
  opened: number;
  messages: Uint8Array[];
  closes: string[];
  /** Inputs the adapter dropped before werift, by reason. */
  drops: Record<string, number>;
  sent: Uint8Array[]; // every datagram this side transmitted
}

/** Waits until cond() holds; rejects after ms (a failed expectation, not a skipped one). */
export async function until(cond: () => boolean, ms = 3000, what = "condition"): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await Bun.sleep(2);
  }
}

export const cookies = new Cookies();
let serverCert: Certificate;
let clientCert: Certificate;
export async function certs() {
  serverCert ??= await generateCertificate();
  clientCert ??= await generateCertificate({ days: 30 });
  return { serverCert, clientCert };
}

/** A lone server session (no peer) that hands what it sends to `transmit` and counts what it drops, by reason. */
export function countingServer(cert: Certificate, transmit: (d: Uint8Array) => void = () => {}) {
  const drops: Record<string, number> = {};
  const session = createServerSession(cert, {
    transmit,
    onOpen() {},
    onMessage() {},
    onClose() {},
    onDrop: (r) => void (drops[r] = (drops[r] ?? 0) + 1),
  });
  return { session, drops };
}

export interface PairOptions {
  /** Return true to lose this datagram. */
  drop?: (fromServer: boolean, d: Uint8Array) => boolean;
  /** What the wire delivers instead of this datagram (some of its records lost, say); null: nothing. */
  edit?: (fromServer: boolean, d: Uint8Array) => Uint8Array | null;
  server?: SessionLimits;
  client?: SessionLimits;
}

export function pair(sc: Certificate, cc: Certificate, expectFp = sc.fingerprint, opts: PairOptions = {}) {
  const mk = (): Omit<Side, "session"> => ({ opened: 0, messages: [], closes: [], drops: {}, sent: [] });
  const s = mk() as Side;
  const c = mk() as Side;
  let sessionRandom = "";
  const wire = (from: Side, to: () => Side, fromServer: boolean) => (d: Uint8Array) => {
    let copy: Uint8Array = d.slice();
    from.sent.push(copy);
    if (opts.drop?.(fromServer, copy)) return;
    if (opts.edit) {
      const e = opts.edit(fromServer, copy);
      if (!e || !e.length) return;
      copy = e;
    }
    // The relay's core stands in front of every server session and answers ClientHellos without a
    // valid cookie itself (relay/core.ts): do the same here.
    // A retransmission of the hello that made the session passes whatever its cookie's age, as there.
    const ch = fromServer ? null : findClientHello(copy);
    const again = !!ch && ch.hello.cookie.length > 0 && sessionRandom === Buffer.from(ch.hello.random).toString("hex");
    if (ch && !again && !cookies.check("pipe", ch.hello.cookie, Date.now())) {
      const hvr = helloVerifyRequest(ch.record.seq, cookies.make("pipe", Date.now()));
      setTimeout(() => from.session.receive(hvr), 0);
      return;
    }
    if (ch?.hello.cookie.length) sessionRandom = Buffer.from(ch.hello.random).toString("hex");
    setTimeout(() => to().session.receive(copy), 0);
  };
  const handlers = (me: Side, other: () => Side, isServer: boolean) => ({
    transmit: wire(me, other, isServer),
    onOpen: () => void me.opened++,
    onMessage: (m: Uint8Array) => void me.messages.push(m.slice()),
    onClose: (r: string) => void me.closes.push(r),
    onDrop: (r: string) => void (me.drops[r] = (me.drops[r] ?? 0) + 1),
  });
  s.session = createServerSession(
    sc,
    handlers(s, () => c, true),
    opts.server,
  );
  c.session = createClientSession(
    cc,
    expectFp,
    handlers(c, () => s, false),
    opts.client,
  );
  return { s, c };
}

export async function openPair(opts: PairOptions = {}) {
  const { serverCert: sc, clientCert: cc } = await certs();
  const p = pair(sc, cc, sc.fingerprint, opts);
  await until(() => p.s.opened === 1 && p.c.opened === 1, 30000, "both sides open");
  return p;
}
