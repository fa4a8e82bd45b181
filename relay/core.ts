// The relay's sans-IO core: datagrams, channel events and time in; actions out.
// It demultiplexes the one UDP socket (RFC 7983), runs ICE-lite checks, tracks every session's
// lifecycle and limits, speaks the Layer-1 protocol (HELLO/PING/ERROR) and hands room frames to
// the router. The socket loop (socket.ts) and the DTLS/SCTP adapter (werift.ts) execute the actions.
import { E, T, VERSION, decode, encode } from "../src/wire.ts";
import { handleStun } from "./stun.ts";
import { bucket, take, DEFAULT_LIMITS, type Bucket, type Limits } from "./limits.ts";
import { Router } from "./router.ts";

export interface Addr { address: string; port: number }

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
  /** A session sent relay records (gossip): the shell verifies and probes them. */
  | { type: "records"; key: string; json: string }
  /** Something worth one log line. */
  | { type: "event"; level: "debug" | "info" | "warn"; name: string; fields: Record<string, unknown> };

type State = "handshake" | "open" | "ready";

interface Session {
  key: string;
  from: Addr;
  ufrag: string;
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
}

/** A limit as WELCOME announces it: a whole number from 1 to max. */
export const clamp = (x: number, max: number) => Math.max(1, Math.min(max, Math.floor(x)));

export const addrKey = (a: Addr) => (a.address.includes(":") ? `[${a.address}]` : a.address) + ":" + a.port;

export class RelayCore {
  readonly limits: Limits;
  /** Dropped inputs by reason, and other event counters. */
  readonly counters: Record<string, number> = Object.create(null);
  private sessions = new Map<string, Session>();
  private perIp = new Map<string, number>();
  private halfOpen = 0;
  private creates: Bucket;
  readonly router: Router;
  /** The RECORDS frame every session gets before WELCOME: this relay and the relays it vouches for. */
  records: Uint8Array | null = null;

  constructor(limits: Partial<Limits> = {}, now = 0) {
    this.limits = { ...DEFAULT_LIMITS, ...limits };
    this.creates = bucket(this.limits.createBurst, now);
    this.router = new Router(this.limits);
  }

  count(reason: string, n = 1) {
    this.counters[reason] = (this.counters[reason] ?? 0) + n;
  }

  get size() { return this.sessions.size; }
  get handshaking() { return this.halfOpen; }

  /** One datagram from the socket. */
  handleDatagram(buf: Uint8Array, from: Addr, now: number): Action[] {
    const b0 = buf[0];
    if (buf.length == 0) return this.drop("empty");
    // RFC 7983 §7: 0..3 STUN, 20..63 DTLS, anything else is not ours.
    if (b0 <= 3) return this.stun(buf, from, now);
    if (b0 >= 20 && b0 <= 63) {
      const s = this.sessions.get(addrKey(from));
      if (!s) return this.drop("dtls-no-session");
      s.lastSeen = now;
      return [{ type: "dtls", key: s.key, data: buf }];
    }
    return this.drop("not-stun-or-dtls");
  }

  private drop(reason: string): Action[] {
    this.count("drop." + reason);
    return [];
  }

  private stun(buf: Uint8Array, from: Addr, now: number): Action[] {
    const d = handleStun(buf, from);
    switch (d.type) {
      case "ignore": return this.drop("stun." + d.reason);
      case "error": this.count("drop.stun." + d.reason); return [{ type: "send", to: from, data: d.reply }];
      case "binding": this.count("stun.binding"); return [{ type: "send", to: from, data: d.reply }];
    }
    // A valid ICE check: it proves the sender knows the ufrag it put in its own offer.
    const key = addrKey(from);
    const out: Action[] = [];
    const s = this.sessions.get(key);
    if (s) {
      if (s.ufrag == d.ufrag) {
        s.lastSeen = now;
        return [{ type: "send", to: from, data: d.reply }];
      }
      // Same address, new ufrag: the browser started over (page reload, ICE restart). Replace.
      out.push(...this.close(s, "replaced", now));
    }
    const ipCount = this.perIp.get(from.address) ?? 0;
    if (this.sessions.size >= this.limits.maxSessions) return [...out, ...this.drop("limit.sessions")];
    if (ipCount >= this.limits.sessionsPerIp) return [...out, ...this.drop("limit.sessions-per-ip")];
    if (this.halfOpen >= this.limits.halfOpen) return [...out, ...this.drop("limit.half-open")];
    if (!take(this.creates, this.limits.createRate, this.limits.createBurst, now)) return [...out, ...this.drop("limit.create-rate")];
    const ns: Session = {
      key, from: { ...from }, ufrag: d.ufrag, state: "handshake", created: now, lastSeen: now, openedAt: 0,
      msgs: bucket(this.limits.msgBurst, now), rateWarned: -Infinity, relayed: bucket(this.limits.relayBurst, now),
    };
    this.sessions.set(key, ns);
    this.perIp.set(from.address, ipCount + 1);
    this.halfOpen++;
    this.count("sessions.created");
    out.push({ type: "open", key, from: ns.from });
    out.push({ type: "send", to: from, data: d.reply });
    out.push({ type: "event", level: "debug", name: "session.new", fields: { key } });
    return out;
  }

  /** The adapter reports the DataChannel open; `remoteFp` is the browser's certificate fingerprint. */
  handleOpen(key: string, now: number, remoteFp?: string): Action[] {
    const s = this.sessions.get(key);
    if (!s || s.state != "handshake") return [];
    if (remoteFp) s.id = Uint8Array.from(remoteFp.split(":").slice(0, 8), (h) => parseInt(h, 16));
    s.state = "open";
    s.openedAt = now;
    this.halfOpen--;
    this.count("sessions.opened");
    return [{ type: "event", level: "info", name: "session.open", fields: { key, ms: now - s.created } }];
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
    if (!s || s.state == "handshake") return this.drop("msg-no-session");
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
    if (s.state == "open") {
      if (f.t != T.HELLO) {
        this.count("drop.before-hello");
        return [err(E.UNEXPECTED, "say HELLO first")];
      }
      if (f.min > VERSION || f.max < VERSION) {
        this.count("drop.version");
        return [err(E.VERSION, `relay speaks version ${VERSION} only`), ...this.close(s, "version", now)];
      }
      s.state = "ready";
      const welcome: Action = { type: "frame", key, data: encode({ t: T.WELCOME, version: VERSION, maxFrame: this.limits.maxFrame, rate: clamp(this.limits.relayRate, 2 ** 32 - 1), msgRate: clamp(this.limits.msgRate, 65535) }) };
      return this.records ? [{ type: "frame", key, data: this.records }, welcome] : [welcome];
    }
    switch (f.t) {
      case T.PING: return [{ type: "frame", key, data: encode({ t: T.PONG, data: f.data }) }];
      case T.PONG: return [];
      case T.RECORDS: return [{ type: "records", key, json: f.json }];
      case T.JOIN: case T.LEAVE: case T.SEND: case T.BCAST: {
        // Peer ids are bound to the DTLS certificate, so nobody can squat another browser's id.
        if (f.t == T.JOIN && s.id && f.id.some((b, i) => b != s.id![i])) {
          this.count("room." + E.ID_MISMATCH);
          return [err(E.ID_MISMATCH, "peer id must be the first 8 bytes of your certificate's SHA-256 fingerprint")];
        }
        // Relayed bytes (signaling, and room traffic between peers that cannot connect directly)
        // are paid by the relay's operator: limited per session, announced in WELCOME.
        if (f.t == T.SEND || f.t == T.BCAST) {
          // What arrives is a DELIVER, one byte longer than a SEND (nine more than a BCAST): it must fit too.
          if (msg.length + (f.t == T.SEND ? 1 : 9) > this.limits.maxFrame) {
            this.count("drop.frame-size");
            return [err(E.FRAME_SIZE, `delivering this would exceed ${this.limits.maxFrame} bytes`)];
          }
          const n = f.data.length * (f.t == T.BCAST ? Math.max(1, this.router.size(f.topic) - 1) : 1);
          if (!take(s.relayed, this.limits.relayRate, this.limits.relayBurst, now, n)) {
            this.count("drop.relay-rate");
            if (now - s.rateWarned < 1000) return [];
            s.rateWarned = now;
            return [err(E.RATE, `more than ${this.limits.relayRate} relayed bytes per second`)];
          }
          // What operators pay for: payload bytes relayed (sealed type 4 is room traffic between
          // pairs without a direct path, the rest signaling; the type byte is in the clear).
          this.count(f.data[0] == 4 ? "relayed.data-bytes" : "relayed.signal-bytes", n);
        }
        const r = this.router.handle(key, f);
        const out: Action[] = r.out.map((o) => ({ type: "frame", key: o.key, data: o.data }));
        if (r.error) {
          this.count("room." + r.error.code);
          out.push(err(r.error.code, r.error.message));
        } else this.count("room.t" + f.t);
        return out;
      }
    }
    this.count("drop.unexpected");
    return [err(E.UNEXPECTED, `frame type ${f.t} is not for the relay`)];
  }

  /** Timeouts: idle sessions, stalled handshakes, channels that never said HELLO. */
  tick(now: number): Action[] {
    const out: Action[] = [];
    const L = this.limits;
    for (const s of this.sessions.values()) {
      if (now - s.lastSeen > L.idleTimeoutMs) out.push(...this.close(s, "idle", now));
      else if (s.state == "handshake" && now - s.created > L.handshakeTimeoutMs) out.push(...this.close(s, "handshake-timeout", now));
      else if (s.state == "open" && now - s.openedAt > L.helloTimeoutMs) out.push(...this.close(s, "hello-timeout", now));
    }
    return out;
  }

  /** Close every session (shutdown). */
  closeAll(now: number): Action[] {
    const out: Action[] = [];
    for (const s of [...this.sessions.values()]) out.push(...this.close(s, "shutdown", now));
    return out;
  }

  private close(s: Session, reason: string, now: number, tellShell = true): Action[] {
    this.sessions.delete(s.key);
    const n = (this.perIp.get(s.from.address) ?? 1) - 1;
    if (n > 0) this.perIp.set(s.from.address, n);
    else this.perIp.delete(s.from.address);
    if (s.state == "handshake") this.halfOpen--;
    this.count("sessions.closed." + reason.split(":")[0]);
    const out: Action[] = this.router.drop(s.key).map((o) => ({ type: "frame" as const, key: o.key, data: o.data }));
    if (tellShell) out.push({ type: "close", key: s.key, reason });
    out.push({ type: "event", level: "info", name: "session.close", fields: { key: s.key, reason, age_ms: now - s.created } });
    return out;
  }
}
