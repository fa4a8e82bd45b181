// The relay's sans-IO core: datagrams, channel events and time in; actions out.
// It demultiplexes the one UDP socket (RFC 7983), answers ICE-lite checks and DTLS ClientHellos
// statelessly, creates a session only for an address that proved it receives the relay's replies
// (a DTLS cookie), tracks every session's lifecycle and limits, speaks the Layer-1 protocol
// (HELLO/PING/ERROR) and hands room frames to the router. The socket loop (socket.ts) and the
// DTLS/SCTP adapter (werift.ts) execute the actions. Limits and what each defends against:
// docs/protocol.md §7.
import { E, T, VERSION, decode, deliverGrowth, encode } from "../protocol/frames.ts";
import { Sealed } from "../protocol/sealed.ts";
import { handleStun, parseStun, getAttr, decodeXorAddress, encodeStun, ATTR, CLASS, METHOD_BINDING } from "./stun.ts";
import { bucket, take, DEFAULT_LIMITS, type Bucket, type Limits } from "./limits.ts";
import { DeadlineHeap } from "./heap.ts";
import { Router } from "./router.ts";
import { Cookies, hostOf, prefixOf } from "./cookie.ts";
import { findClientHello, helloVerifyRequest } from "./dtls-records.ts";

export interface Addr {
  address: string;
  port: number;
}

export type Action =
  /** Send one raw UDP datagram (STUN replies). */
  | { type: "send"; to: Addr; data: Uint8Array }
  /** Start a DTLS server session for this remote address. */
  | { type: "open"; key: string; from: Addr }
  /** Feed a DTLS datagram to the session's adapter. */
  | { type: "dtls"; key: string; data: Uint8Array }
  /** Send one application frame on the session's channel. */
  | { type: "frame"; key: string; data: Uint8Array }
  /** Tear the session down (the shell closes its adapter, then need not call handleClosed). */
  | { type: "close"; key: string; reason: string }
  /** A session sent relay records (gossip): the shell checks the sender is a relay (its own record's
   *  fingerprint is `fp`, its address's IP is `ip`), then verifies and probes them. */
  | { type: "records"; key: string; json: string; fp: string; ip: string }
  /** A plain STUN Binding this relay sent (bindingRequest) was answered by `from`: it saw this
   *  relay's socket at `mapped` ("ip:port", null when the answer carried no usable address). */
  | { type: "mapped"; from: Addr; mapped: string | null }
  /** Something worth one log line. */
  | { type: "event"; level: "debug" | "info" | "warn"; name: string; fields: Record<string, unknown> };

type State = "handshake" | "open" | "ready";

interface Session {
  key: string;
  from: Addr;
  /** The ICE key (USERNAME's first half) of the checks that led to this session, when known. */
  ufrag?: string;
  /** The client random of the ClientHello that created it (a retransmission has the same). */
  random: Uint8Array;
  /** What per-IP and per-network limits count it under (cookie.ts hostOf/prefixOf). */
  host: string;
  prefix: string;
  state: State;
  created: number;
  lastSeen: number;
  openedAt: number;
  msgs: Bucket;
  rateWarned: number;
  /** Relayed payload bytes (SEND/BCAST), limited to relayRate per second. */
  relayed: Bucket;
  /** First 8 bytes of the browser's DTLS certificate fingerprint: the only peer id it may use. */
  id?: Uint8Array;
  /** The peer's whole certificate fingerprint (colon hex). */
  fp?: string;
  /** RECORDS frames accepted (gossip), limited per session. */
  records: Bucket;
  /** JOINED/LEFT notifications this session's JOIN/LEAVE caused (each member told is one token). */
  churn: Bucket;
  /** When it said HELLO; the rest of the relay list follows RECORDS_MORE_MS later, once. */
  readyAt?: number;
  /** A relay (this relay has its record): no RECORDS before WELCOME (a probe has no use for them),
   *  the whole list RECORDS_MORE_MS later if it stays (a gossip link). */
  relay?: boolean;
  /** When tick() looks at this session next (its entry in the deadline heap). */
  due: number;
}

/** Bounds of the core's own bookkeeping of unauthenticated input (RECENT_MAX: addresses checking
 *  without a session, at least as many as the pages a restarted relay had). */
const RECENT_MAX = 32768,
  REPLIES_MAX = 16384;
/** RECORDS frames a session may send: one a second, a burst of 5 (a relay sends one per change of its list). */
const RECORDS_RATE = 1,
  RECORDS_BURST = 5;
/** The relay list beyond the first RECORDS frame goes to sessions still open this long after HELLO:
 *  pages and gossip links, not the probes that close as soon as they are welcomed. */
export const RECORDS_MORE_MS = 2000;
/** Bindings this relay sent and waits on (relay/gossip.ts pings), and how long it waits. */
const BINDINGS_MAX = 4096,
  BINDING_WAIT_MS = 10_000;
/** Room notifications a session's JOIN/LEAVE may cause at once: joining 16 full rooms of 64. */
const CHURN_BURST = 1024;
const equal = (a: Uint8Array, b: Uint8Array) => a.length === b.length && a.every((x, i) => x === b[i]);

/** A limit as WELCOME announces it: a whole number from 1 to max. */
export const clamp = (x: number, max: number) => Math.max(1, Math.min(max, Math.floor(x)));

export const addrKey = (a: Addr) => (a.address.includes(":") ? `[${a.address}]` : a.address) + ":" + a.port;

export class RelayCore {
  readonly limits: Limits;
  /** Dropped inputs by reason, and other event counters. */
  readonly counters: Record<string, number> = Object.create(null);
  private sessions = new Map<string, Session>();
  private perIp = new Map<string, number>();
  private halfOpenBy = new Map<string, number>();
  private halfOpen = 0;
  private creates: Bucket;
  private cookies: Cookies;
  /** Replies to unauthenticated input (STUN, HelloVerifyRequest) per network prefix: bounded map. */
  private replies = new Map<string, Bucket>();
  /** The ICE key last seen in a valid check from an address without a session (bounded). */
  private recent = new Map<string, { ufrag: string; since: number }>();
  readonly router: Router;
  /** The RECORDS frame every session gets before WELCOME: this relay and the relays it vouches for. */
  records: Uint8Array | null = null;
  /** The rest of the list (RECORDS frames, each with this relay's record first), sent once to
   *  every session still open RECORDS_MORE_MS after HELLO. */
  recordsMore: Uint8Array[] = [];
  /** Whether a certificate fingerprint is a relay's this relay has a record of (relay/peering.ts
   *  asks the gossip core). */
  isRelay: (fp: string) => boolean = () => false;
  /** Plain STUN Bindings sent from this relay's socket, by transaction id: to whom, when. */
  private bindings = new Map<string, { to: string; at: number }>();
  /** Sessions by the time tick() must look at them (a session's entry is current when its `due` matches). */
  private deadlines = new DeadlineHeap<Session>();

  constructor(limits: Partial<Limits> = {}, now = 0, cookies = new Cookies()) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.creates = bucket(this.limits.createBurst, now);
    this.router = new Router(this.limits);
    this.cookies = cookies;
  }

  count(reason: string, n = 1) {
    this.counters[reason] = (this.counters[reason] ?? 0) + n;
  }

  get size() {
    return this.sessions.size;
  }
  get handshaking() {
    return this.halfOpen;
  }

  /** One datagram from the socket. */
  handleDatagram(buf: Uint8Array, from: Addr, now: number): Action[] {
    const b0 = buf[0];
    if (buf.length === 0) return this.drop("empty");
    // RFC 7983 §7: 0..3 STUN, 20..63 DTLS, anything else is not ours.
    if (b0 <= 3) return this.stun(buf, from, now);
    if (b0 >= 20 && b0 <= 63) {
      const key = addrKey(from);
      const s = this.sessions.get(key);
      // A ClientHello is answered by the cookie exchange, whether a session exists or not.
      if (b0 === 22) {
        const ch = findClientHello(buf);
        if (ch) return this.hello(buf, ch.record.seq, ch.hello.random, ch.hello.cookie, from, key, s, now);
      }
      if (!s) return this.drop("dtls-no-session");
      // Not proof of life: anyone can send bytes from any address. The adapter reports records that
      // decrypt (handleAlive).
      return [{ type: "dtls", key: s.key, data: buf }];
    }
    return this.drop("not-stun-or-dtls");
  }

  private drop(reason: string): Action[] {
    this.count("drop." + reason);
    return [];
  }

  /**
   * A plain STUN Binding request to `to` from this relay's own socket (the address other relays see
   * is that socket's, NAT mapping included): the answer comes back as a "mapped" action.
   */
  bindingRequest(to: Addr, now: number): Action[] {
    const txid = crypto.getRandomValues(new Uint8Array(12));
    if (this.bindings.size >= BINDINGS_MAX) this.bindings.delete(this.bindings.keys().next().value!);
    this.bindings.set(Buffer.from(txid).toString("hex"), { to: addrKey(to), at: now });
    this.count("stun.binding-sent");
    return [{ type: "send", to, data: encodeStun({ method: METHOD_BINDING, cls: CLASS.REQUEST, txid, attrs: [] }) }];
  }

  /** An answer to one of this relay's own Bindings: from the address asked, with the txid sent, in time. */
  private bindingAnswer(buf: Uint8Array, from: Addr, now: number): Action[] | null {
    // Binding success response: type 0x0101 (RFC 8489 §5).
    if (!this.bindings.size || buf[0] !== 0x01 || buf[1] !== 0x01) return null;
    const m = parseStun(buf);
    if (!m || m.cls !== CLASS.SUCCESS || m.method !== METHOD_BINDING) return null;
    const k = Buffer.from(m.txid).toString("hex");
    const b = this.bindings.get(k);
    if (!b || b.to !== addrKey(from) || now - b.at > BINDING_WAIT_MS) return this.drop("stun.unexpected-answer");
    this.bindings.delete(k);
    const x = getAttr(m, ATTR.XOR_MAPPED_ADDRESS);
    const a = x && decodeXorAddress(x, m.txid);
    this.count("stun.binding-answered");
    return [{ type: "mapped", from: { ...from }, mapped: a ? addrKey(a) : null }];
  }

  private stun(buf: Uint8Array, from: Addr, now: number): Action[] {
    const answer = this.bindingAnswer(buf, from, now);
    if (answer) return answer;
    const d = handleStun(buf, from);
    switch (d.type) {
      case "ignore":
        return this.drop("stun." + d.reason);
      // Both are answers to unauthenticated input: budgeted per network like every other (§7).
      case "error":
        this.count("drop.stun." + d.reason);
        return this.replyBudget(from, now) ? [{ type: "send", to: from, data: d.reply }] : this.drop("limit.unauth-replies");
      case "binding":
        if (!this.replyBudget(from, now)) return this.drop("limit.unauth-replies");
        this.count("stun.binding");
        return [{ type: "send", to: from, data: d.reply }];
    }
    // A valid ICE check proves only that its sender knows the R it wrote in USERNAME (in clear on
    // the wire): not that it receives replies at its source address. It is answered without state.
    const key = addrKey(from);
    const s = this.sessions.get(key);
    if (s && s.ufrag === d.ufrag) {
      s.lastSeen = now; // the key only this browser (and the relay) knows: as good as its DTLS keys off-path
      return [{ type: "send", to: from, data: d.reply }];
    }
    if (!s) {
      const r = this.recent.get(key),
        same = r?.ufrag === d.ufrag;
      // The same key from the same address for longer than a handshake may take, and still no
      // session: an ICE path that outlived its DTLS session (the relay restarted, or closed the
      // session without the page noticing). No answer, so that the browser's ICE reports the path
      // lost (src/link.ts then pings, hears nothing and moves on) within seconds, where the page
      // would otherwise learn it only from its next liveness PING, up to half a minute later.
      if (same && now - r!.since > this.limits.handshakeTimeoutMs) return this.drop("stun.no-session");
      if (this.recent.size >= RECENT_MAX) this.recent.delete(this.recent.keys().next().value!);
      this.recent.delete(key);
      this.recent.set(key, { ufrag: d.ufrag, since: same ? r!.since : now });
    }
    if (!this.replyBudget(from, now)) return this.drop("limit.unauth-replies");
    this.count("stun.check");
    return [{ type: "send", to: from, data: d.reply }];
  }

  /** Take one reply to unauthenticated input from the sender's network's budget (reflection bound). */
  private replyBudget(from: Addr, now: number): boolean {
    const p = prefixOf(from.address);
    let b = this.replies.get(p);
    if (!b) {
      if (this.replies.size >= REPLIES_MAX) this.replies.delete(this.replies.keys().next().value!);
      this.replies.set(p, (b = bucket(this.limits.unauthReplyBurst, now)));
    }
    return take(b, this.limits.unauthReplyRate, this.limits.unauthReplyBurst, now);
  }

  /**
   * A ClientHello (its first fragment). Without a valid cookie: a stateless HelloVerifyRequest,
   * never larger than the datagram that asked for it. With one: the address receives what the
   * relay sends, so a session may be created (or replace the session at that address: a browser
   * that started over); a retransmission goes to the session it belongs to.
   */
  private hello(
    buf: Uint8Array,
    seq: number,
    random: Uint8Array,
    cookie: Uint8Array,
    from: Addr,
    key: string,
    s: Session | undefined,
    now: number,
  ): Action[] {
    // A retransmission of the hello that made this address's session (same random, a cookie) goes
    // to that session, whatever the cookie's age: the address proved itself when the session was
    // made, and a handshake slowed by loss can outlast a cookie (5-10 s); answering it with a new
    // HelloVerifyRequest would leave the browser resending an expired cookie until it gives up.
    if (s && cookie.length && equal(s.random, random)) return [{ type: "dtls", key, data: buf }];
    if (!this.cookies.check(key, cookie, now)) {
      if (cookie.length) this.count("dtls.bad-cookie");
      const hvr = helloVerifyRequest(seq, this.cookies.make(key, now));
      if (hvr.length > buf.length) return this.drop("dtls.hello-too-short");
      if (!this.replyBudget(from, now)) return this.drop("limit.unauth-replies");
      this.count("dtls.hello-verify");
      return [{ type: "send", to: from, data: hvr }];
    }
    const out: Action[] = [];
    // Same address, a new client proven by the cookie: the browser started over (reload, ICE restart).
    if (s) out.push(...this.close(s, "replaced", now));
    const L = this.limits;
    const host = hostOf(from.address),
      prefix = prefixOf(from.address);
    const ipCount = this.perIp.get(host) ?? 0,
      netHalf = this.halfOpenBy.get(prefix) ?? 0;
    if (this.sessions.size >= L.maxSessions) return [...out, ...this.drop("limit.sessions")];
    if (ipCount >= L.sessionsPerIp) return [...out, ...this.drop("limit.sessions-per-ip")];
    if (netHalf >= L.halfOpenPerNet) return [...out, ...this.drop("limit.half-open-per-net")];
    if (this.halfOpen >= L.halfOpen) return [...out, ...this.drop("limit.half-open")];
    if (!take(this.creates, L.createRate, L.createBurst, now)) return [...out, ...this.drop("limit.create-rate")];
    const ufrag = this.recent.get(key)?.ufrag;
    this.recent.delete(key);
    const ns: Session = {
      key,
      from: { ...from },
      ufrag,
      random: random.slice(),
      host,
      prefix,
      state: "handshake",
      created: now,
      lastSeen: now,
      openedAt: 0,
      msgs: bucket(L.msgBurst, now),
      rateWarned: -Infinity,
      relayed: bucket(L.relayBurst, now),
      records: bucket(RECORDS_BURST, now),
      churn: bucket(CHURN_BURST, now),
      due: 0,
    };
    this.sessions.set(key, ns);
    this.schedule(ns);
    this.perIp.set(host, ipCount + 1);
    this.halfOpenBy.set(prefix, netHalf + 1);
    this.halfOpen++;
    this.count("sessions.created");
    out.push({ type: "open", key, from: ns.from });
    out.push({ type: "dtls", key, data: buf });
    out.push({ type: "event", level: "debug", name: "session.new", fields: { key } });
    return out;
  }

  /** A frame from the relay itself (gossip) to a session that said HELLO; nothing if it is gone. */
  frameTo(key: string, data: Uint8Array): Action[] {
    return this.sessions.get(key)?.state === "ready" ? [{ type: "frame", key, data }] : [];
  }

  /** The adapter decrypted a record of this session: its peer is alive. */
  handleAlive(key: string, now: number) {
    const s = this.sessions.get(key);
    if (s) s.lastSeen = now;
  }

  /** The adapter reports the DataChannel open; `remoteFp` is the browser's certificate fingerprint. */
  handleOpen(key: string, now: number, remoteFp?: string): Action[] {
    const s = this.sessions.get(key);
    if (!s || s.state !== "handshake") return [];
    if (remoteFp) (s.id = Uint8Array.from(remoteFp.split(":").slice(0, 8), (h) => parseInt(h, 16))), (s.fp = remoteFp);
    s.state = "open";
    s.openedAt = now;
    s.lastSeen = now;
    this.schedule(s);
    this.halfOpenDone(s);
    this.count("sessions.opened");
    return [{ type: "event", level: "debug", name: "session.open", fields: { key, ms: now - s.created } }];
  }

  /** The adapter reports the session ended on its own (DTLS close, SCTP abort, handshake failure). */
  handleClosed(key: string, reason: string, now: number): Action[] {
    const s = this.sessions.get(key);
    if (!s) return [];
    return this.close(s, reason, now, false);
  }

  /** One application frame from a session's channel. */
  handleMessage(key: string, msg: Uint8Array, now: number): Action[] {
    const s = this.sessions.get(key);
    if (!s || s.state === "handshake") return this.drop("msg-no-session");
    this.count("frames.in");
    s.lastSeen = now;
    const err = (code: number, message: string): Action => ({ type: "frame", key, data: encode({ t: T.ERROR, code, message }) });
    if (msg.length > this.limits.maxFrame) {
      this.count("drop.frame-size");
      return [err(E.FRAME_SIZE, `frame of ${msg.length} bytes exceeds ${this.limits.maxFrame}`)];
    }
    if (!take(s.msgs, this.limits.msgRate, this.limits.msgBurst, now)) {
      this.count("drop.rate");
      // One ERROR per second at most, so a flood does not turn into a flood of errors.
      if (now - s.rateWarned < 1000) return [];
      s.rateWarned = now;
      return [err(E.RATE, `more than ${this.limits.msgRate} frames per second`)];
    }
    const f = decode(msg);
    if (!f) {
      this.count("drop.malformed");
      return [err(E.MALFORMED, "malformed frame")];
    }
    if (s.state === "open") {
      if (f.t !== T.HELLO) {
        this.count("drop.before-hello");
        return [err(E.UNEXPECTED, "say HELLO first")];
      }
      if (f.min > VERSION || f.max < VERSION) {
        this.count("drop.version");
        return [err(E.VERSION, `relay speaks version ${VERSION} only`), ...this.close(s, "version", now)];
      }
      s.state = "ready";
      s.readyAt = now;
      s.relay = !!s.fp && this.isRelay(s.fp);
      this.schedule(s);
      const welcome: Action = {
        type: "frame",
        key,
        data: encode({
          t: T.WELCOME,
          version: VERSION,
          maxFrame: this.limits.maxFrame,
          rate: clamp(this.limits.relayRate, 2 ** 32 - 1),
          msgRate: clamp(this.limits.msgRate, 65535),
        }),
      };
      return this.records && !s.relay ? [{ type: "frame", key, data: this.records }, welcome] : [welcome];
    }
    switch (f.t) {
      case T.PING:
        return [{ type: "frame", key, data: encode({ t: T.PONG, data: f.data }) }];
      case T.PONG:
        return [];
      case T.RECORDS: {
        // Gossip is for relays (the shell checks the sender's own record); a browser gains nothing
        // here, and each frame can make the relay verify signatures and dial addresses.
        if (!s.fp || !take(s.records, RECORDS_RATE, RECORDS_BURST, now)) return this.drop("records-rate");
        return [{ type: "records", key, json: f.json, fp: s.fp, ip: s.from.address }];
      }
      case T.JOIN:
      case T.LEAVE:
      case T.SEND:
      case T.BCAST: {
        // Peer ids are bound to the DTLS certificate, so nobody can squat another browser's id.
        if (f.t === T.JOIN && s.id && f.id.some((b, i) => b !== s.id![i])) {
          this.count("room." + E.ID_MISMATCH);
          return [err(E.ID_MISMATCH, "peer id must be the first 8 bytes of your certificate's SHA-256 fingerprint")];
        }
        // Relayed bytes (signaling, and room traffic between peers that cannot connect directly)
        // are paid by the relay's operator: limited per session, announced in WELCOME.
        if (f.t === T.SEND || f.t === T.BCAST) {
          // What arrives is a DELIVER, one byte longer than a SEND (nine more than a BCAST): it must fit too.
          if (msg.length + deliverGrowth(f.t) > this.limits.maxFrame) {
            this.count("drop.frame-size");
            return [err(E.FRAME_SIZE, `delivering this would exceed ${this.limits.maxFrame} bytes`)];
          }
          const peers = f.t === T.BCAST ? Math.max(1, this.router.size(f.topic) - 1) : 1;
          const n = f.data.length * peers;
          if (n > this.limits.relayBurst) {
            // More than the bucket can ever hold: no waiting makes it fit.
            this.count("drop.bcast-size");
            return [
              err(
                E.FRAME_SIZE,
                `broadcasting ${f.data.length} bytes to ${peers} peers is ${n} bytes, more than the relay's burst of ${this.limits.relayBurst}: send to fewer peers or in smaller pieces`,
              ),
            ];
          }
          if (!take(s.relayed, this.limits.relayRate, this.limits.relayBurst, now, n)) {
            this.count("drop.relay-rate");
            if (now - s.rateWarned < 1000) return [];
            s.rateWarned = now;
            return [err(E.RATE, `more than ${this.limits.relayRate} relayed bytes per second`)];
          }
          // What operators pay for: payload bytes relayed (sealed type 4 is room traffic between
          // pairs without a direct path, the rest signaling; the type byte is in the clear).
          this.count(f.data[0] === Sealed.DATA ? "relayed.data-bytes" : "relayed.signal-bytes", n);
        }
        // JOINED/LEFT go to every other member: the sender pays for the fan-out (churn bucket).
        if (
          (f.t === T.JOIN || f.t === T.LEAVE) &&
          !take(s.churn, this.limits.msgRate * 2, CHURN_BURST, now, Math.max(1, this.router.size(f.topic)))
        ) {
          this.count("drop.churn");
          if (now - s.rateWarned < 1000) return [];
          s.rateWarned = now;
          return [err(E.RATE, "joining and leaving rooms faster than the relay allows")];
        }
        // s.id is set from the DTLS certificate: a JOIN that got here under it owns the id.
        const r = this.router.handle(key, f, s.host, !!s.id);
        if (r.replaced) this.count("room.replaced");
        const out: Action[] = r.out.map((o) => ({ type: "frame", key: o.key, data: o.data }));
        if (r.error) {
          this.count("room." + r.error.code);
          out.push(err(r.error.code, r.error.message));
        } else this.count(f.t === T.JOIN ? "room.join" : f.t === T.LEAVE ? "room.leave" : f.t === T.SEND ? "room.send" : "room.bcast");
        return out;
      }
    }
    this.count("drop.unexpected");
    return [err(E.UNEXPECTED, `frame type ${f.t} is not for the relay`)];
  }

  /** Timeouts: idle sessions, stalled handshakes, channels that never said HELLO; the rest of the
   *  relay list to sessions that stayed. Looks only at the sessions whose deadline passed
   *  (nextDeadline() says when the shell should call it next). */
  tick(now: number): Action[] {
    const out: Action[] = [];
    const L = this.limits;
    for (const [k, b] of this.bindings) {
      if (now - b.at <= BINDING_WAIT_MS) break; // in order of sending
      this.bindings.delete(k);
    }
    for (let e; (e = this.deadlines.popBefore(now)); ) {
      const s = e.item;
      if (s.due !== e.at || this.sessions.get(s.key) !== s) continue; // superseded, or closed since
      if (s.readyAt !== undefined && now - s.readyAt >= RECORDS_MORE_MS) {
        s.readyAt = undefined;
        if (s.relay && this.records) out.push({ type: "frame", key: s.key, data: this.records });
        for (const data of this.recordsMore) out.push({ type: "frame", key: s.key, data });
      }
      if (now - s.lastSeen > L.idleTimeoutMs) out.push(...this.close(s, "idle", now));
      else if (s.state === "handshake" && now - s.created > L.handshakeTimeoutMs) out.push(...this.close(s, "handshake-timeout", now));
      else if (s.state === "open" && now - s.openedAt > L.helloTimeoutMs) out.push(...this.close(s, "hello-timeout", now));
      else this.schedule(s); // alive: activity moved its idle deadline on
    }
    return out;
  }

  /** When tick() has something to do next (Infinity: nothing until new input). A session expires
   *  when the clock is past its deadline: call tick() at or after the time returned. */
  nextDeadline(): number {
    // Entries superseded by a later schedule() (or of closed sessions) are dropped here, not waited for.
    for (let e; (e = this.deadlines.top()) && (e.item.due !== e.at || this.sessions.get(e.item.key) !== e.item); )
      this.deadlines.popBefore(Infinity);
    return this.deadlines.peek();
  }

  /** A session's next deadline: the earliest of its idle, handshake and hello timeouts and the rest of the relay list. */
  private schedule(s: Session) {
    const L = this.limits;
    let at = s.lastSeen + L.idleTimeoutMs;
    if (s.state === "handshake") at = Math.min(at, s.created + L.handshakeTimeoutMs);
    else if (s.state === "open") at = Math.min(at, s.openedAt + L.helloTimeoutMs);
    if (s.readyAt !== undefined) at = Math.min(at, s.readyAt + RECORDS_MORE_MS);
    if (at === s.due && s.due !== 0) return;
    s.due = at;
    this.deadlines.push(at, s);
  }

  /** Close every session (shutdown). */
  closeAll(now: number): Action[] {
    const out: Action[] = [];
    for (const s of [...this.sessions.values()]) out.push(...this.close(s, "shutdown", now));
    return out;
  }

  private halfOpenDone(s: Session) {
    this.halfOpen--;
    const n = (this.halfOpenBy.get(s.prefix) ?? 1) - 1;
    if (n > 0) this.halfOpenBy.set(s.prefix, n);
    else this.halfOpenBy.delete(s.prefix);
  }

  private close(s: Session, reason: string, now: number, tellShell = true): Action[] {
    this.sessions.delete(s.key);
    const n = (this.perIp.get(s.host) ?? 1) - 1;
    if (n > 0) this.perIp.set(s.host, n);
    else this.perIp.delete(s.host);
    if (s.state === "handshake") this.halfOpenDone(s);
    this.count("sessions.closed." + reason.split(":")[0]);
    const out: Action[] = this.router.drop(s.key).map((o) => ({ type: "frame" as const, key: o.key, data: o.data }));
    if (tellShell) out.push({ type: "close", key: s.key, reason });
    out.push({ type: "event", level: "debug", name: "session.close", fields: { key: s.key, reason, age_ms: now - s.created } });
    return out;
  }
}
