// The room's mesh, sans-IO: which members exist and what they proved, who offers, the sessions and
// sequence numbers that make relayed messages unreplayable, when a pair falls back to the relay and
// when it retries a direct path. Events and the time go in; actions come out (handed to `act` as they
// arise), for the room's shell (src/room.ts) to carry out with RTCPeerConnections, sealing and timers;
// tick() does what is due and says when it is next needed. docs/protocol.md §4.
//
// A member costs nothing until a sealed message from it opened (it holds the room key): the relay's
// MEMBERS/JOINED only make an id a candidate (capped, oldest out, expiring) that gets a HELLO. The
// peer with the smaller id offers once the other proved itself. Written small: it ships on-chain.
import { Sealed } from "../protocol/sealed.ts";
import { utf8Decode, utf8Encode } from "../protocol/bytes.ts";

/** No direct channel this long after a pair is proven: relay its traffic (and retry direct every RETRY). */
export const FALLBACK = 3000,
  RETRY = 10000;
/** An ICE path that stays "disconnected" this long is lost: traffic moves to the relay. */
export const GRACE = 2000;
/** A candidate id (named by a relay, not proven) is forgotten after this long; HELLO is resent this often to it. */
export const CANDIDATE_TTL = 30000,
  HELLO_EVERY = 5000;
/** Proven members a room keeps at most (a full mesh of 64 pages), and candidates not yet proven. */
export const MAX_MEMBERS = 64,
  MAX_CANDIDATES = 128;
/** HELLOs sent per second at most (a relay naming ids cannot make a page seal without bound). */
export const HELLO_RATE = 20;
/** Sessions and sequence numbers of members that left, kept so a replay after a fake LEFT/JOINED fails. */
const GRAVEYARD = 1024;

export type Path = "direct" | "relayed";
/** decrypt: a sealed message would not open; identity: a direct channel's certificate is not the
 *  peer's id; relay: a message the relay passed broke the protocol (or relayed data while direct);
 *  replay: a message came again or from another session; limit: a cap was reached; data: a peer's data
 *  frames were malformed or a message timed out. */
export type ErrorCode = "decrypt" | "identity" | "relay" | "replay" | "limit" | "data";

/** Actions, as argument lists of `act`: (what, member id, …). */
export const enum Do {
  SEND,
  CONNECT,
  OFFER,
  ANSWER,
  REMOTE,
  CAND,
  PEER,
  PATH,
  DATA,
  GONE,
  ERROR,
}
export type Action =
  // Seal `body` as `kind`, numbered `seq`, to the member's session `to` ("" for zeros), and send it through the relay.
  | [Do.SEND, string, Sealed, number, string, Uint8Array]
  // Create the member's RTCPeerConnection and negotiated channel.
  | [Do.CONNECT, string]
  // Create an offer (an ICE restart when true), set it, report it with local().
  | [Do.OFFER, string, boolean]
  // Apply this offer, create and set the answer, report it with local().
  | [Do.ANSWER, string, string]
  // Apply the member's answer / ICE candidate.
  | [Do.REMOTE, string, string]
  | [Do.CAND, string, RTCIceCandidateInit]
  // The member can be sent to (emit `peer`), or its path changed (emit `path`).
  | [Do.PEER | Do.PATH, string, Path]
  // A relayed data frame from the member, to reassemble and deliver.
  | [Do.DATA, string, Uint8Array]
  // The member is gone: close its connection; emit `leave` if it was announced (true).
  | [Do.GONE, string, boolean]
  // Something the member (or the relay on its behalf) did wrong: reported once per member and code.
  | [Do.ERROR, string, ErrorCode, string];

interface Member {
  id: string;
  /** We offer (our id is the smaller). */
  off: boolean;
  /** A sealed message from it opened. */
  proven?: boolean;
  /** Its session, the last sequence number taken in it, ours towards it. */
  ses: string;
  rx: number;
  tx: number;
  nick: string;
  /** Relay links it was seen on. */
  via: Set<unknown>;
  pc?: boolean;
  /** Direct channel open with the right certificate; ICE connected on it. */
  ok?: boolean;
  ice?: boolean;
  /** What the app sees: undefined until announced. */
  path?: Path;
  /** We said HELLO to it. */
  said?: boolean;
  /** Deadlines (ms): candidate expiry, next HELLO, fallback, retry, ICE grace. */
  exp: number;
  hello: number;
  fb: number;
  retry: number;
  grace: number;
  /** A relayed message from it is in progress (its first frame arrived, not its last). */
  partial?: boolean;
  /** A HELLO from a new session of it, held while the old session's path works. */
  next?: [unknown, Opened];
  told: Set<string>;
}

/** A message as the shell opened it: `fresh` when its AD named our session (always, but for HELLO). */
export interface Opened {
  kind: number;
  seq: number;
  ses: string;
  body: Uint8Array;
  fresh: boolean;
}

export type Mesh = ReturnType<typeof createMesh>;

/** The mesh of one room visit: `self` is this page's id, `ses` its session (hex, 8 bytes each); `act`
 *  carries out each action as it arises. */
export function createMesh(self: string, ses: string, nick: string, act: (...a: Action) => void) {
  const members = new Map<string, Member>(),
    dead = new Map<string, [string, number]>(),
    told = new Set<string>();
  const st = { rejected: 0 };
  const enc = (x: unknown) => utf8Encode(JSON.stringify(x));
  const get = (id: string) => members.get(id);

  const count = (proven: boolean) => [...members.values()].filter((m) => !!m.proven === proven).length;
  const add = (id: string, now: number): Member => {
    const m: Member = {
      id,
      off: self < id,
      ses: "",
      rx: 0,
      tx: 0,
      nick: "",
      via: new Set(),
      exp: now + CANDIDATE_TTL,
      hello: now,
      fb: Infinity,
      retry: now + RETRY,
      grace: Infinity,
      told: new Set(),
    };
    members.set(id, m);
    return m;
  };
  const send = (m: Member, kind: Sealed, body: Uint8Array) => act(Do.SEND, m.id, kind, ++m.tx, kind === Sealed.HELLO ? "" : m.ses, body);
  // HELLOs to candidates cost a seal and a relay frame each: HELLO_RATE a second at most (burst 2×),
  // the rest wait their turn. A HELLO owed to a member that proved itself is never held back.
  // A token bucket kept as the time its tokens were spent up to: never more than 2 s behind now
  // (a full bucket), a HELLO_RATE-th of a second forward per HELLO, empty when within that of now.
  let spent = -Infinity;
  const hello = (m: Member, now: number) => {
    const wait = !m.proven && (spent = Math.max(spent, now - 2000)) + 1000 / HELLO_RATE > now;
    m.hello = now + (wait ? 1000 / HELLO_RATE : HELLO_EVERY);
    if (wait) return;
    if (!m.proven) spent += 1000 / HELLO_RATE;
    m.said = true;
    send(m, Sealed.HELLO, enc({ nick }));
  };
  /** Refused input: counted; reported once per member (or room) and code. */
  const no = (id: string, code: ErrorCode, msg: string) => {
    st.rejected++;
    const set = get(id)?.told ?? told,
      k = code + (members.has(id) ? "" : msg);
    set.has(k) || (set.add(k), act(Do.ERROR, id, code, msg));
  };
  const malformed = (id: string) => no(id, "relay", `peer ${id}: malformed message`),
    replay = (id: string) => no(id, "replay", `peer ${id}: replayed message`);
  const announce = (m: Member, path: Path, now: number) => {
    if ((path === "direct" && !(m.ok && m.ice)) || m.path === path) return;
    const first = !m.path;
    m.path = path;
    m.fb = Infinity;
    if (path === "relayed") m.retry = Math.max(m.retry, now + RETRY);
    act(first ? Do.PEER : Do.PATH, m.id, path);
  };
  /** The offerer (re)starts ICE towards `m`; the next retry is RETRY from now. */
  const restart = (m: Member, now: number) => {
    m.retry = now + RETRY;
    act(Do.OFFER, m.id, true);
  };
  /** The direct path failed: traffic moves to the relay; the offerer restarts ICE. */
  const lost = (m: Member, now: number) => {
    m.grace = Infinity;
    m.ice = false;
    announce(m, "relayed", now);
    if (m.off && m.pc) restart(m, now);
  };
  /** Its session's path works: a direct channel with ICE up, or (never direct) relayed. */
  const alive = (m: Member) => (m.ok ? m.ice : m.path);
  const drop = (m: Member) => {
    members.delete(m.id);
    if (m.ses) {
      dead.delete(m.id);
      if (dead.size >= GRAVEYARD) dead.delete(dead.keys().next().value!);
      dead.set(m.id, [m.ses, m.rx]);
    }
    act(Do.GONE, m.id, !!m.path);
  };

  /** A sealed message from `id` opened; it came through `link`. */
  const opened = (id: string, link: unknown, o: Opened, now: number): void => {
    // Only a HELLO may name no session of ours; anything else was sealed for another visit.
    if (id === self || (!o.fresh && o.kind !== Sealed.HELLO)) return replay(id);
    let m = get(id);
    if (!m) {
      if (count(true) >= MAX_MEMBERS) return no(id, "limit", `room full (${MAX_MEMBERS})`);
      m = add(id, now);
    }
    m.via.add(link);
    // Back in the same session after leaving: it goes on from where it was (no replay after a fake LEFT/JOINED).
    const d = dead.get(id);
    if (!m.ses && d?.[0] === o.ses) [m.ses, m.rx] = d;
    if (m.ses !== o.ses) {
      // A new session of this member (its page came back, or a replay): only a message naming ours
      // replaces a working one. A HELLO waits (counted) until the old path fails: a page that crashed
      // and reloaded under its kept id is met once its old direct path is lost, not when the relay times it out.
      if (m.ses && !o.fresh && alive(m)) return void (st.rejected++, (m.next = [link, o]));
      if (m.pc) return (drop(m), opened(id, link, o, now));
      (m.ses = o.ses), (m.rx = 0);
    }
    if (o.seq <= m.rx) return replay(id);
    m.rx = o.seq;
    if (!m.proven) {
      m.proven = true;
      m.fb = now + FALLBACK;
      if (m.off) (m.pc = true), act(Do.CONNECT, id), act(Do.OFFER, id, false);
      // It proved itself before we said HELLO (its relay named us first): prove ourselves back.
      else if (!m.said) hello(m, now);
    }
    if (o.kind === Sealed.DATA) {
      // Relayed data is as good as the room key; a member on a working direct path (DTLS-checked)
      // sends there, so relayed data then could be forged by anyone holding the key: refused, unless
      // it continues a message begun on the relay before the switch.
      if (m.ok && m.ice && !m.partial) return no(id, "relay", `peer ${id}: relayed data while direct`);
      // Relayed data from a member not yet announced: it fell back to the relay (maybe a moment before us).
      m.path || announce(m, "relayed", now);
      return act(Do.DATA, id, o.body);
    }
    let b: any;
    try {
      b = JSON.parse(utf8Decode(o.body));
    } catch {}
    if (!b || typeof b !== "object") return malformed(id);
    if (typeof b.nick === "string") m.nick = b.nick.slice(0, 256);
    const sdp = typeof b.sdp === "string" && b.sdp;
    if (o.kind === Sealed.OFFER && sdp && !m.off) {
      if (!m.pc) (m.pc = true), act(Do.CONNECT, id);
      act(Do.ANSWER, id, sdp);
    } else if (o.kind === Sealed.ANSWER && sdp && m.off) act(Do.REMOTE, id, sdp);
    else if (o.kind === Sealed.CAND) m.pc && act(Do.CAND, id, b);
    else if (o.kind !== Sealed.HELLO) malformed(id);
  };

  return {
    st,
    ses,
    /** Members that can be sent to. */
    peers: () => [...members.values()].filter((m) => m.path).map((m) => m.id),
    path: (id: string) => get(id)?.path,
    nick: (id: string) => get(id)?.nick ?? "",
    /** The relay links a member was seen on. */
    via: (id: string) => [...(get(id)?.via ?? [])],

    /** The relay says `id` is in the room (MEMBERS, JOINED) on `link`. */
    seen(id: string, link: unknown, now: number) {
      let m = get(id);
      if (id === self) return;
      if (m) return void m.via.add(link);
      // Too many candidates: the oldest goes (a relay naming thousands of ids cannot keep out the one that joins now).
      if (count(false) >= MAX_CANDIDATES) {
        no(id, "limit", "relay named too many members");
        members.delete([...members.values()].find((x) => !x.proven)!.id);
      }
      (m = add(id, now)).via.add(link);
      hello(m, now);
    },

    /** The relay says `id` left. A member with an open direct channel stays. */
    left(id: string, link: unknown) {
      const m = get(id);
      m && (m.via.delete(link), m.via.size || m.ok || drop(m));
    },

    /** A relay link went down: not a way to members any more. */
    down(link: unknown) {
      for (const m of members.values()) m.via.delete(link);
    },

    /** Refused input from `id`: counted, reported once per member and code. */
    refuse: no,
    /** A sealed message from `id` that would not open. A HELLO: a wrong password (or tampering), reported.
     *  Anything else names a session: sealed for an earlier visit of this page (it crashed and came
     *  back under its id) or tampered with; counted, not reported. */
    bad: (id: string, hello: boolean) =>
      hello ? no(id, "decrypt", `peer ${id}: cannot decrypt (wrong room password?)`) : void st.rejected++,

    opened,

    /** The shell's relayed reassembly for `id` holds a partial message (or not). */
    partial(id: string, p: boolean) {
      const m = get(id);
      if (m) m.partial = p;
    },

    /** The shell set a local offer or answer for `id`; a local ICE candidate. */
    local(id: string, kind: Sealed.OFFER | Sealed.ANSWER, sdp: string) {
      const m = get(id);
      m && send(m, kind, enc({ sdp, nick }));
    },
    cand(id: string, c: RTCIceCandidateInit) {
      const m = get(id);
      m && send(m, Sealed.CAND, enc(c));
    },

    /** Relayed data from us to `id`; false when it is gone or not proven. */
    data(id: string, frame: Uint8Array) {
      const m = get(id);
      return !!m?.proven && (send(m, Sealed.DATA, frame), true);
    },

    /** The direct channel to `id` opened (`ok`: its DTLS certificate's fingerprint starts with the id), or closed (`ok` undefined). */
    chan(id: string, ok: boolean | undefined, now: number) {
      const m = get(id);
      if (!m) return;
      if (ok === undefined) return void (m.ok && ((m.ok = false), m.via.size ? lost(m, now) : drop(m)));
      if (!ok) return (no(id, "identity", `peer ${id}: certificate does not match id`), drop(m));
      m.ok = m.ice = true;
      announce(m, "direct", now);
    },

    /** The direct connection's ICE state changed. */
    ice(id: string, s: RTCIceConnectionState, now: number) {
      const m = get(id);
      if (!m) return;
      if (s === "connected" || s === "completed") (m.grace = Infinity), (m.ice = true), announce(m, "direct", now);
      else if (s === "failed") lost(m, now);
      else if (s === "disconnected" && m.grace === Infinity) m.grace = now + GRACE;
    },

    /** Does what is due (candidate expiry, HELLO resends, ICE grace, fallback, retries, a held HELLO
     *  whose old path failed) and returns when it is next needed (Infinity: nothing scheduled).
     *  Members added meanwhile are walked too (a Map's iterator visits them). */
    tick(now: number): number {
      let t = Infinity;
      for (const m of members.values()) {
        if (m.proven) {
          if (now >= m.grace) lost(m, now);
          if (now >= m.fb) announce(m, "relayed", now);
          // (A proven member we offer to has its connection: the offerer makes it on proof.)
          if (now >= m.retry && m.path === "relayed" && m.off) restart(m, now);
          if (m.next && !alive(m)) {
            const [link, o] = m.next;
            m.next = undefined;
            opened(m.id, link, o, now);
          }
        } else if (now >= m.exp) {
          members.delete(m.id);
          continue;
        } else if (now >= m.hello) hello(m, now);
        t = Math.min(t, m.grace, m.fb, m.path === "relayed" && m.off ? m.retry : Infinity, ...(m.proven ? [] : [m.exp, m.hello]));
      }
      return t;
    },

    /** Leave the room (every member goes), or drop one member (the app's peer.close()). */
    leave() {
      members.forEach(drop);
    },
    close(id: string) {
      const m = get(id);
      m && drop(m);
    },
  };
}
