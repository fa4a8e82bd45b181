// The room's mesh, sans-IO: which members exist and what they proved, who offers, the sessions and
// sequence numbers that make relayed messages unreplayable, when a pair falls back to the relay and
// when it retries a direct path. Events and the time go in; actions come out, for the room's shell
// (src/room.ts) to carry out with RTCPeerConnections, sealing and timers. docs/protocol.md §4.
//
// A member costs nothing until a sealed message from it opened (it holds the room key): the relay's
// MEMBERS/JOINED only make an id a candidate, capped, that expires. The peer with the larger id says
// HELLO first; the smaller one offers once the other proved itself.
import { Sealed } from "../protocol/sealed.ts";
import { hex } from "../protocol/bytes.ts";

/** No direct channel this long after a pair is proven: relay its traffic (and retry direct every RETRY). */
export const FALLBACK = 3000, RETRY = 10000;
/** An ICE path that stays "disconnected" this long is lost: traffic moves to the relay. */
export const GRACE = 2000;
/** A candidate id (named by a relay, not proven) is forgotten after this long; HELLO is resent this often to it. */
export const CANDIDATE_TTL = 30000, HELLO_EVERY = 5000;
/** Proven members a room keeps at most (a full mesh of 64 pages), and candidates not yet proven. */
export const MAX_MEMBERS = 64, MAX_CANDIDATES = 128;

export type Path = "direct" | "relayed";

/** A message as the shell opened it: the room key held, the AD named this page's session (or zeros for HELLO). */
export interface Opened {
  kind: number;
  seq: number;
  /** The sender's session (8 bytes hex). */
  session: string;
  body: Uint8Array;
}

export type Action =
  // Seal `body` to `id` as `kind`, numbered `seq`, bound to `toSession` (hex, or "" for zeros), and send it through the relay.
  | { type: "send"; id: string; kind: Sealed; seq: number; toSession: string; body: Uint8Array }
  // Create this member's RTCPeerConnection (and its negotiated channel).
  | { type: "connect"; id: string }
  // Create an offer (restarting ICE if asked), set it, and report it with local().
  | { type: "offer"; id: string; restart: boolean }
  // Apply this offer, create the answer, set it, and report it with local().
  | { type: "answer"; id: string; sdp: string }
  // Apply the peer's answer / candidate.
  | { type: "remote"; id: string; sdp: string }
  | { type: "candidate"; id: string; candidate: RTCIceCandidateInit }
  // The member can be sent to: emit `peer` (first time) or `path`.
  | { type: "peer"; id: string; path: Path }
  | { type: "path"; id: string; path: Path }
  // A relayed data frame from this member, to reassemble and deliver.
  | { type: "data"; id: string; frame: Uint8Array }
  // The member is gone: close its connection; emit `leave` if it had been announced.
  | { type: "gone"; id: string; announced: boolean }
  // Something a member (or the relay on its behalf) did wrong, reported once per member and kind.
  | { type: "error"; id: string; code: "decrypt" | "identity" | "relay" | "replay" | "limit"; message: string };

interface Member {
  id: string;
  /** We offer (our id is the smaller). */
  offerer: boolean;
  /** A sealed message from it opened. */
  proven: boolean;
  /** Its session, learned from its messages, and the last sequence number taken in it. */
  session: string;
  rx: number;
  /** The session it named as ours in a message that opened: ours means it is not a replay of another room visit. */
  fresh: boolean;
  /** Our sequence number towards it. */
  tx: number;
  nick: string;
  /** Relay links it was seen on. */
  via: Set<unknown>;
  pc: boolean;
  /** Direct channel open and its certificate checked; ICE connected on it. */
  ok: boolean;
  ice: boolean;
  /** What the app sees: undefined until announced. */
  path?: Path;
  /** Deadlines (ms): candidate expiry, HELLO resend, fallback, retry, ICE grace. */
  expires: number;
  helloAt: number;
  fallbackAt: number;
  retryAt: number;
  graceAt: number;
  /** A relayed message is in progress from it (its first frame arrived, not its last). */
  relaying: boolean;
  reported: Set<string>;
}

/** The sessions and sequence numbers of members that left, so a replay after a fake LEFT/JOINED fails. */
const GRAVEYARD = 1024;

export class Mesh {
  private members = new Map<string, Member>();
  private graveyard = new Map<string, { session: string; rx: number }>();
  /** Errors about ids that are not members (limits): reported once per room and kind. */
  private reported = new Set<string>();
  /** Messages refused (replays, stale sessions, undecryptable, over a limit). */
  rejected = 0;

  /** `self`: this page's peer id (hex); `session`: its session for this room visit (hex of 8 bytes). */
  constructor(readonly self: string, readonly session: string, private nick = "") {}

  /** Members that can be sent to. */
  peers(): string[] {
    return [...this.members.values()].filter((m) => m.path).map((m) => m.id);
  }
  path(id: string): Path | undefined {
    return this.members.get(id)?.path;
  }
  nickOf(id: string): string {
    return this.members.get(id)?.nick ?? "";
  }
  /** The relay links a member was seen on (signaling goes through the first that is still up). */
  via(id: string): unknown[] {
    return [...(this.members.get(id)?.via ?? [])];
  }

  /** The relay says `id` is in the room (MEMBERS, JOINED) on `link`. */
  seen(id: string, link: unknown, now: number): Action[] {
    if (id == this.self) return [];
    let m = this.members.get(id);
    if (m) {
      m.via.add(link);
      return [];
    }
    if (this.count((x) => !x.proven) >= MAX_CANDIDATES) return this.refuse(id, "limit", "too many unproven members named by the relay");
    m = this.member(id, now);
    m.via.add(link);
    return m.offerer ? [] : this.hello(m, now);
  }

  /** The relay says `id` left (its session there ended). A member with an open direct channel stays. */
  left(id: string, link: unknown, now: number): Action[] {
    const m = this.members.get(id);
    if (!m) return [];
    m.via.delete(link);
    return m.via.size || m.ok ? [] : this.drop(m, now);
  }

  /** A relay link went down: forget it as a way to members. */
  linkDown(link: unknown): void {
    for (const m of this.members.values()) m.via.delete(link);
  }

  /** A sealed message from `id` that would not open (wrong password, tampering). */
  undecryptable(id: string): Action[] {
    this.rejected++;
    const m = this.members.get(id);
    return m ? this.report(m, "decrypt", `peer ${id}: cannot decrypt (wrong room password, or tampered with)`) : [];
  }

  /** A sealed message from `id` opened (it came through `link`). `freshSession`: the AD named our session. */
  opened(id: string, link: unknown, o: Opened, freshSession: boolean, now: number): Action[] {
    if (id == this.self) return [];
    // Anything but HELLO must name our session: else it was sealed for another visit of ours.
    if (!freshSession && o.kind != Sealed.HELLO) return this.stale(id);
    let m = this.members.get(id);
    if (!m) {
      if (this.count((x) => x.proven) >= MAX_MEMBERS) return this.refuse(id, "limit", `room is full here (${MAX_MEMBERS} members)`);
      m = this.member(id, now);
    }
    // A member that left and came back in the same session goes on from where it was: what it sent
    // before cannot be replayed after a fake LEFT/JOINED.
    const dead = this.graveyard.get(id);
    if (!m.session && dead?.session == o.session) (m.session = dead.session), (m.rx = dead.rx);
    m.via.add(link);
    if (m.session != o.session) {
      // A new session of this member: only a message naming our session may start it (or a HELLO,
      // which only restarts a member that has no working path).
      if (!freshSession && (m.ok || m.path)) return this.stale(id);
      if (m.pc) return this.restartMember(m, o, link, freshSession, now);
      (m.session = o.session), (m.rx = 0), (m.fresh = false);
    }
    if (o.seq <= m.rx) return this.stale(id, m);
    m.rx = o.seq;
    if (freshSession) m.fresh = true;
    const out: Action[] = [];
    if (!m.proven) {
      m.proven = true;
      m.fallbackAt = now + FALLBACK;
      if (m.offerer) out.push({ type: "connect", id }, { type: "offer", id, restart: false }), (m.pc = true);
    }
    const json = () => {
      try {
        return JSON.parse(new TextDecoder().decode(o.body));
      } catch {
        return null;
      }
    };
    switch (o.kind) {
      case Sealed.HELLO: {
        const b = json();
        if (typeof b?.nick == "string") m.nick = b.nick.slice(0, 256);
        break;
      }
      case Sealed.OFFER: case Sealed.ANSWER: {
        const b = json();
        if (typeof b?.nick == "string") m.nick = b.nick.slice(0, 256);
        if (typeof b?.sdp != "string") return this.malformed(m, out);
        if (o.kind == Sealed.OFFER) {
          if (m.offerer) return this.malformed(m, out); // glare cannot happen: the smaller id offers
          if (!m.pc) out.push({ type: "connect", id }), (m.pc = true);
          out.push({ type: "answer", id, sdp: b.sdp });
        } else if (m.offerer && m.pc) out.push({ type: "remote", id, sdp: b.sdp });
        break;
      }
      case Sealed.CAND: {
        const b = json();
        if (!b || typeof b != "object") return this.malformed(m, out);
        if (m.pc) out.push({ type: "candidate", id, candidate: b });
        break;
      }
      case Sealed.DATA: {
        // Relayed data is as good as the room key; a member on a working direct path (DTLS-checked)
        // sends there, so a relayed frame then could be forged by anyone holding the key: refused,
        // unless it continues a message that started on the relay before the switch.
        if (m.ok && m.ice && !m.relaying) return this.refuse(id, "relay", `relayed data from ${id} while a direct path is up`, m);
        if (!m.path) out.push(...this.announce(m, "relayed", now));
        out.push({ type: "data", id, frame: o.body });
        break;
      }
      default:
        return this.malformed(m, out);
    }
    return out;
  }

  /** The shell's relayed reassembly for `id` has a partial message (true) or none (false). */
  relaying(id: string, partial: boolean) {
    const m = this.members.get(id);
    if (m) m.relaying = partial;
  }

  /** The shell created and set a local description (offer or answer) for `id`. */
  local(id: string, kind: Sealed.OFFER | Sealed.ANSWER, sdp: string): Action[] {
    const m = this.members.get(id);
    return m ? [this.send(m, kind, { sdp, nick: this.nick })] : [];
  }

  /** A local ICE candidate for `id`. */
  candidate(id: string, c: RTCIceCandidateInit): Action[] {
    const m = this.members.get(id);
    return m ? [this.send(m, Sealed.CAND, c)] : [];
  }

  /** The direct channel to `id` opened; `certOk`: the DTLS certificate's fingerprint starts with its id. */
  channelOpen(id: string, certOk: boolean, now: number): Action[] {
    const m = this.members.get(id);
    if (!m) return [];
    if (!certOk) return [...this.report(m, "identity", `peer ${id} does not hold the certificate its id names`), ...this.drop(m, now)];
    m.ok = m.ice = true;
    return this.announce(m, "direct", now);
  }

  /** The direct channel to `id` closed: the member is gone unless the relay still has it. */
  channelClosed(id: string, now: number): Action[] {
    const m = this.members.get(id);
    if (!m || !m.ok) return [];
    m.ok = false;
    return m.via.size ? this.lost(m, now) : this.drop(m, now);
  }

  /** The direct connection's ICE state changed. */
  ice(id: string, state: RTCIceConnectionState, now: number): Action[] {
    const m = this.members.get(id);
    if (!m) return [];
    if (state == "connected" || state == "completed") {
      m.graceAt = Infinity;
      m.ice = true;
      return m.ok ? this.announce(m, "direct", now) : [];
    }
    if (state == "failed") return this.lost(m, now);
    if (state == "disconnected" && m.graceAt == Infinity) m.graceAt = now + GRACE;
    return [];
  }

  /** Deadlines that passed: candidate expiry, HELLO resends, fallback, retries, ICE grace. */
  tick(now: number): Action[] {
    const out: Action[] = [];
    for (const m of [...this.members.values()]) {
      if (!m.proven) {
        if (now >= m.expires) {
          this.members.delete(m.id);
          continue;
        }
        if (!m.offerer && now >= m.helloAt) out.push(...this.hello(m, now));
        continue;
      }
      if (now >= m.graceAt) out.push(...this.lost(m, now));
      if (now >= m.fallbackAt && !m.path) out.push(...this.announce(m, "relayed", now));
      if (now >= m.retryAt && m.path == "relayed" && m.offerer && m.pc) {
        m.retryAt = now + RETRY;
        out.push({ type: "offer", id: m.id, restart: true });
      }
    }
    return out;
  }

  /** The next time tick() has something to do (Infinity: nothing scheduled). */
  nextDeadline(): number {
    let t = Infinity;
    for (const m of this.members.values()) {
      if (!m.proven) t = Math.min(t, m.expires, m.offerer ? Infinity : m.helloAt);
      else {
        t = Math.min(t, m.graceAt);
        if (!m.path) t = Math.min(t, m.fallbackAt);
        if (m.path == "relayed" && m.offerer) t = Math.min(t, m.retryAt);
      }
    }
    return t;
  }

  /** Leaving the room: every member goes. */
  leave(now: number): Action[] {
    return [...this.members.values()].flatMap((m) => this.drop(m, now));
  }

  /** Close one member locally (the app's peer.close()). */
  close(id: string, now: number): Action[] {
    const m = this.members.get(id);
    return m ? this.drop(m, now) : [];
  }

  // ---------------------------------------------------------------------------------------------

  private member(id: string, now: number): Member {
    const m: Member = {
      id, offerer: this.self < id, proven: false, session: "", rx: 0, fresh: false, tx: 0, nick: "", via: new Set(), pc: false,
      ok: false, ice: false, expires: now + CANDIDATE_TTL, helloAt: now, fallbackAt: Infinity, retryAt: now + RETRY, graceAt: Infinity,
      relaying: false, reported: new Set(),
    };
    this.members.set(id, m);
    return m;
  }

  private count(f: (m: Member) => boolean) {
    let n = 0;
    for (const m of this.members.values()) if (f(m)) n++;
    return n;
  }

  private send(m: Member, kind: Sealed, body: unknown): Action {
    return { type: "send", id: m.id, kind, seq: ++m.tx, toSession: kind == Sealed.HELLO ? "" : m.session, body: kind == Sealed.DATA ? (body as Uint8Array) : new TextEncoder().encode(JSON.stringify(body)) };
  }

  /** Relayed data from us to `id`: the send action, or null when it has no relay path. */
  data(id: string, frame: Uint8Array): Action | null {
    const m = this.members.get(id);
    return m && m.proven ? this.send(m, Sealed.DATA, frame) : null;
  }

  private hello(m: Member, now: number): Action[] {
    m.helloAt = now + HELLO_EVERY;
    return [this.send(m, Sealed.HELLO, { nick: this.nick })];
  }

  private announce(m: Member, path: Path, now: number): Action[] {
    if (path == "direct" && !(m.ok && m.ice)) return [];
    if (m.path == path) return [];
    const first = !m.path;
    m.path = path;
    if (path == "relayed") m.retryAt = Math.max(m.retryAt, now + RETRY);
    return [first ? { type: "peer", id: m.id, path } : { type: "path", id: m.id, path }];
  }

  /** The direct path failed: traffic moves to the relay; the offerer restarts ICE. */
  private lost(m: Member, now: number): Action[] {
    m.graceAt = Infinity;
    m.ice = false;
    const out = m.path == "direct" ? this.announce(m, "relayed", now) : m.path ? [] : this.announce(m, "relayed", now);
    if (m.offerer && m.pc) (m.retryAt = now + RETRY), out.push({ type: "offer", id: m.id, restart: true });
    return out;
  }

  /** A proven member started a new session (the peer rejoined): forget the old connection. */
  private restartMember(m: Member, o: Opened, link: unknown, fresh: boolean, now: number): Action[] {
    const out = this.drop(m, now);
    this.graveyard.delete(m.id);
    return [...out, ...this.opened(m.id, link, o, fresh, now)];
  }

  private drop(m: Member, now: number): Action[] {
    void now;
    this.members.delete(m.id);
    if (m.session) {
      this.graveyard.delete(m.id);
      if (this.graveyard.size >= GRAVEYARD) this.graveyard.delete(this.graveyard.keys().next().value!);
      this.graveyard.set(m.id, { session: m.session, rx: m.rx });
    }
    return [{ type: "gone", id: m.id, announced: !!m.path }];
  }

  private stale(id: string, m = this.members.get(id)): Action[] {
    this.rejected++;
    return m ? this.report(m, "replay", `a message from ${id} was a replay or from another session (dropped)`) : [];
  }

  private malformed(m: Member, out: Action[]): Action[] {
    this.rejected++;
    return [...out, ...this.report(m, "relay", `peer ${m.id} sent a malformed message`)];
  }

  private refuse(id: string, code: "limit" | "relay", message: string, m = this.members.get(id)): Action[] {
    this.rejected++;
    if (m) return this.report(m, code, message);
    if (this.reported.has(message)) return [];
    this.reported.add(message);
    return [{ type: "error", id, code, message }];
  }

  /** One error event per member and kind: a flood from one peer is one event. */
  private report(m: Member, code: "decrypt" | "identity" | "relay" | "replay" | "limit", message: string): Action[] {
    if (m.reported.has(code)) return [];
    m.reported.add(code);
    return [{ type: "error", id: m.id, code, message }];
  }
}

/** Hex of an 8-byte id or session. */
export const idHex = hex;
