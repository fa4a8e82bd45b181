// Rooms (Layer 2), the shell around the mesh core (src/mesh.ts): it seals and opens what goes
// through the relays, runs one RTCPeerConnection per proven member (a full mesh), delivers data
// from direct channels and from the relay, and keeps the room joined on the relays its topic ranks
// first. Peer ids are the first 8 bytes of each browser's DTLS certificate fingerprint: checked by
// the relay on JOIN and by the other peer on the direct connection. docs/protocol.md §4.
import { createEmitter } from "./emitter.ts";
import { E, T, type Frame } from "../protocol/frames.ts";
import { deriveRoom, sealMsg, openMsg, type CryptoProvider, type RoomKeys } from "./seal.ts";
import { encodeData, createReassembler, type Reassembler } from "../protocol/chunk.ts";
import { sendFrames } from "./send.ts";
import { concat, fromHex, hex, int, random, uint } from "../protocol/bytes.ts";
import { fpId } from "../protocol/addr.ts";
import { RELAYED_OVERHEAD, Sealed } from "../protocol/sealed.ts";
import { createMesh, Do, type Action, type ErrorCode, type Path } from "./mesh.ts";
import { hangUp, now, type Link, type RelayInfo } from "./link.ts";
import { rank } from "./discover.ts";

export type { Path } from "./mesh.ts";
export type PeerEvents = { message: [data: unknown]; close: []; path: [path: Path] };
export interface Peer {
  /** 16 hex chars: the first 8 bytes of the peer's certificate fingerprint. */
  readonly id: string;
  readonly nick: string;
  /** "direct": our own connection; "relayed": through the relay, sealed (no direct path yet). */
  readonly path: Path;
  /** Send JSON, a string or bytes. Throws TypeError at once for what cannot be sent; rejects when the
   *  peer stops reading (30 s without progress) or a relayed message could not pass in 60 s. */
  send(data: unknown): Promise<void>;
  on: ReturnType<typeof createEmitter<PeerEvents>>["on"];
  off: ReturnType<typeof createEmitter<PeerEvents>>["off"];
  close(): void;
}

/** Why something from a peer (or a relay on its behalf) was refused: reported once per peer and kind. */
export interface RoomError {
  code: ErrorCode;
  message: string;
  peer?: string;
}

export type RoomEvents = {
  /** This peer can be sent to: a direct channel is open, or (after a few seconds without one) through the relay. */
  peer: [peer: Peer];
  leave: [peer: Peer];
  message: [data: unknown, peer: Peer];
  error: [e: RoomError];
};

export interface Room {
  readonly name: string;
  /** Peers that can be sent to (direct or relayed). */
  readonly peers: Peer[];
  /** The relays ("ip:port") this room is joined on now. */
  readonly relays: string[];
  on: ReturnType<typeof createEmitter<RoomEvents>>["on"];
  off: ReturnType<typeof createEmitter<RoomEvents>>["off"];
  /** Send to every peer. */
  send(data: unknown): Promise<void>;
  leave(): void;
  /** Messages refused: failed to open (wrong password, tampering), replays, over a limit. */
  readonly stats: { rejected: number };
}

export interface JoinOptions {
  nick?: string;
  password?: string;
}

/** What a room needs of the page's relay connection (src/net.ts): a small interface, not the Net. */
export interface RoomHost {
  id: Uint8Array;
  cert?: RTCCertificate;
  crypto: CryptoProvider;
  PC: typeof RTCPeerConnection;
  /** Relays to join the room on. */
  k: number;
  /** Relays to rank for the room, by tier of trust: each tier is ranked on its own and tried before the
   *  next (a relay learned from relays never outranks one traceable to the page's sources). */
  relays(): RelayInfo[][];
  /** Resolves when what relays have taught so far is checked (bounded: never holds a join up long). */
  settled(): Promise<void>;
  /** A link to this relay (rejects if it cannot be reached); skips relays known to be down. */
  linkTo(r: RelayInfo): Promise<Link>;
  isDown(addr: string): boolean;
  /** The rooms joined through this host: each hears every link's frames and links going down; the
   *  host leaves them all when it closes. A room is in it from its join until it leaves. */
  rooms: Set<RoomIn>;
}

/** A room as its host sees it. */
export interface RoomIn {
  frame(f: Frame, l: Link): void;
  down(l: Link): void;
  leave(): void;
}

/** Limits of what a peer may make this page hold (docs/protocol.md §4, "What a peer can do"). */
const DIRECT_LIMITS = { maxBytes: 16 << 20, timeout: 60000 },
  RELAYED_LIMITS = { maxMessage: 4 << 20, maxBytes: 4 << 20, timeout: 60000 };
/** A relayed message must be able to pass at the relay's announced rate within this long (s). */
const RELAY_SEND_MAX = 60;
/** A relay that has not linked within this long (ms) while a room joins: the next in the ranking is tried beside it. */
const HEDGE_MS = 3000;

/** First 8 bytes of the sha-256 fingerprint in an SDP, or null. */
export const sdpId = (sdp: string | undefined): Uint8Array | null => {
  const m = /a=fingerprint:sha-256 ([0-9A-Fa-f:]{95})/i.exec(sdp ?? "");
  return m ? fpId(m[1]) : null;
};

interface Conn {
  pc: RTCPeerConnection;
  dc: RTCDataChannel;
  cands: RTCIceCandidateInit[];
}

export async function joinRoom(host: RoomHost, name: string, o: JoinOptions = {}): Promise<Room> {
  const keys: RoomKeys = await deriveRoom(host.crypto, name, o.password);
  const ev = createEmitter<RoomEvents>();
  const th = hex(keys.topic),
    session = random(8),
    zero = new Uint8Array(8);
  const conns = new Map<string, Conn>();
  const peers = new Map<string, Peer & ReturnType<typeof createEmitter<PeerEvents>>>();
  const relayed = new Map<string, Reassembler>();
  /** Per member: sealed messages go out in sequence order; relayed data waits its turn behind them. */
  const q = new Map<string, Promise<unknown>>(),
    dq = new Map<string, Promise<unknown>>();
  const active = new Map<string, Link>();
  let left = false,
    rq: Promise<unknown> = Promise.resolve(),
    timer: ReturnType<typeof setTimeout> | undefined;

  const linkOf = (id: string) => (mesh.via(id) as Link[]).find((l) => active.get(l.relay.addr) === l) ?? [...active.values()][0];
  const chain = (m: Map<string, Promise<unknown>>, id: string, f: () => Promise<unknown>) => {
    const p = (m.get(id) ?? Promise.resolve()).then(f);
    m.set(
      id,
      p.catch(() => {}),
    );
    return p;
  };
  const fail = () => void mesh.st.rejected++;

  // The core's actions, carried out as they arise.
  const run = (...a: Action) => {
    const id = a[1],
      c = conns.get(id),
      p = peers.get(id);
    switch (a[0]) {
      case Do.SEND: {
        const [, , kind, seq, to, body] = a,
          pt = concat([int(seq, 4), session, body]);
        void chain(q, id, async () => {
          const sealed = await sealMsg(host.crypto, keys, host.id, fromHex(id), kind, to ? fromHex(to) : zero, pt);
          linkOf(id)?.send({ t: T.SEND, topic: keys.topic, to: fromHex(id), data: concat([Uint8Array.of(kind), sealed]) });
        });
        break;
      }
      case Do.CONNECT:
        connect(id);
        break;
      case Do.OFFER:
      case Do.ANSWER:
        // Our offer (an ICE restart when a[2] is true), or our answer to theirs (a[2]): set, then sent.
        c &&
          (async () => {
            const offer = a[0] === Do.OFFER;
            if (!offer) await c.pc.setRemoteDescription({ type: "offer", sdp: a[2] });
            const d = await (offer ? c.pc.createOffer({ iceRestart: a[2] }) : c.pc.createAnswer());
            await c.pc.setLocalDescription(d);
            mesh.local(id, offer ? Sealed.OFFER : Sealed.ANSWER, d.sdp!);
            addCands(c);
          })().catch(fail);
        break;
      case Do.REMOTE:
        c?.pc.signalingState === "have-local-offer" &&
          c.pc.setRemoteDescription({ type: "answer", sdp: a[2] }).then(() => addCands(c), fail);
        break;
      case Do.CAND:
        c && (c.cands.push(a[2]), addCands(c));
        break;
      case Do.PEER:
        ev.emit("peer", mkPeer(id));
        break;
      case Do.PATH:
        p?.emit("path", a[2]);
        break;
      case Do.DATA: {
        const rs = relayed.get(id) ?? relayed.set(id, createReassembler(RELAYED_LIMITS)).get(id)!;
        deliver(id, rs(a[2]));
        mesh.partial(id, rs.pending > 0);
        break;
      }
      case Do.GONE:
        conns.delete(id), relayed.delete(id), peers.delete(id);
        if (c) hangUp(c.pc, c.dc);
        if (p && a[2]) p.emit("close"), ev.emit("leave", p);
        break;
      case Do.ERROR:
        ev.emit("error", { code: a[2], peer: id, message: a[3] });
    }
  };
  const mesh = createMesh(hex(host.id), hex(session), o.nick ?? "", run);
  // One timer: the core does what is due and says when it is next needed.
  const wake = () => {
    clearTimeout(timer);
    const t = mesh.tick(now());
    if (!left && t < Infinity) timer = setTimeout(wake, t - now());
  };
  const addCands = (c: Conn) => {
    if (c.pc.remoteDescription) for (const x of c.cands.splice(0)) c.pc.addIceCandidate(x).catch(fail);
  };

  const deliver = (id: string, r: ReturnType<Reassembler>) => {
    const p = peers.get(id);
    if (!r || !p) return;
    // Over the byte budget: this peer is dropped. Either way one error event per peer, however many frames follow.
    if ("error" in r) return (mesh.refuse(id, r.fatal ? "limit" : "data", `peer ${id}: ${r.error}`), r.fatal && mesh.close(id));
    p.emit("message", r.data);
    ev.emit("message", r.data, p);
  };

  // One message to one peer: over the direct channel, or chunked, sealed and paced through the relay.
  const tx = (id: string, data: unknown): Promise<void> => {
    const c = conns.get(id),
      l = linkOf(id);
    if (mesh.path(id) === "direct" && c) return sendFrames(c.dc, encodeData(data));
    if (!l) return Promise.reject(Error("lumamesh: no path to peer " + id));
    const frames = encodeData(data, l.maxFrame - RELAYED_OVERHEAD),
      bytes = frames.length * RELAYED_OVERHEAD + frames.reduce((n, f) => n + f.length, 0);
    if (bytes / l.rate > RELAY_SEND_MAX || frames.length / l.msgRate > RELAY_SEND_MAX)
      return Promise.reject(
        RangeError(`lumamesh: ${bytes} B cannot pass relay ${l.relay.addr} (${l.rate} B/s) within ${RELAY_SEND_MAX} s`),
      );
    return chain(dq, id, async () => {
      for (const f of frames) {
        await l.pace(f.length + RELAYED_OVERHEAD);
        if (!mesh.data(id, f)) throw Error("lumamesh: peer " + id + " is gone");
      }
    }) as Promise<void>;
  };

  const mkPeer = (id: string) => {
    let nick = "";
    const p = {
      id,
      // The last nick known: still there in `leave` and `close` handlers, after the core forgot the member.
      get nick() {
        return (nick = mesh.nick(id) || nick);
      },
      get path(): Path {
        return mesh.path(id) ?? "relayed";
      },
      ...createEmitter<PeerEvents>(),
      send: (data: unknown) => tx(id, data),
      close: () => mesh.close(id),
    };
    peers.set(id, p);
    return p;
  };

  const connect = (id: string) => {
    // Relays answer plain STUN Binding requests: they are this page's STUN servers.
    const pc = new host.PC({ iceServers: [...active.keys()].map((a) => ({ urls: "stun:" + a })), certificates: host.cert && [host.cert] });
    const dc = pc.createDataChannel("", { negotiated: true, id: 0 });
    conns.set(id, { pc, dc, cands: [] });
    dc.binaryType = "arraybuffer";
    pc.onicecandidate = (e) => e.candidate?.candidate && mesh.cand(id, e.candidate.toJSON());
    pc.oniceconnectionstatechange = () => (mesh.ice(id, pc.iceConnectionState, now()), wake());
    // The channel can open before our side has applied the answer (the answerer's checks and
    // DTLS arrive while the answer is still being opened): wait for it, then check the identity.
    const opened = () => {
      // DTLS proved the certificate in the SDP; the id the relay routed on must be its prefix.
      const rid = sdpId(pc.remoteDescription?.sdp),
        rs = createReassembler(DIRECT_LIMITS);
      dc.onmessage = (e) => deliver(id, rs(new Uint8Array(e.data as ArrayBuffer)));
      mesh.chan(id, !!rid && hex(rid) === id, now());
      wake();
    };
    dc.onopen = () =>
      pc.remoteDescription
        ? opened()
        : pc.addEventListener("signalingstatechange", function f() {
            if (pc.remoteDescription) pc.removeEventListener("signalingstatechange", f), opened();
          });
    dc.onclose = () => (mesh.chan(id, undefined, now()), wake());
  };

  // Sealed messages from the relays, opened in arrival order.
  const onSignal = async (from: Uint8Array, data: Uint8Array, l: Link) => {
    const kind = data[0],
      id = hex(from),
      fresh = kind !== Sealed.HELLO;
    const pt = await openMsg(host.crypto, keys, from, host.id, kind, fresh ? session : zero, data.subarray(1));
    if (left) return;
    if (!pt || pt.length < 12) return mesh.bad(id, !fresh);
    mesh.opened(id, l, { kind, seq: uint(pt.subarray(0, 4)), ses: hex(pt.subarray(4, 12)), body: pt.subarray(12), fresh }, now());
    wake();
  };

  // The relays this room is joined on, picked by rendezvous hashing of the topic over the relays this
  // page knows (most trusted first), so pages that started from different relays still meet. A relay
  // that refuses the JOIN or fails is passed over for the next in the ranking.
  let filling = false,
    refill: ReturnType<typeof setTimeout> | undefined;
  /** Relays that refused the JOIN, and why. */
  const refused = new Map<string, string>();
  const fill = async () => {
    if (filling || left) return;
    filling = true;
    await host.settled();
    const queue = (await Promise.all(host.relays().map((t) => rank(keys.topic, t, host.crypto.sha256))))
      .flat()
      .filter((r) => !active.has(r.addr) && !refused.has(r.addr) && !host.isDown(r.addr));
    let trying = 0;
    const pending: Promise<void>[] = [];
    // k workers: a relay that does not answer within HEDGE_MS holds up nobody (its worker moves on to
    // the next in the ranking; its link still counts if it comes up while the room is short).
    const work = async () => {
      for (let r; !left && active.size + trying < host.k && (r = queue.shift()); ) {
        trying++;
        const p = host.linkTo(r).then((l) => {
          if (!left && active.size < host.k && !active.has(r.addr))
            active.set(r.addr, l), l.send({ t: T.JOIN, topic: keys.topic, id: host.id });
        });
        pending.push(p.catch(() => {}));
        await Promise.race([p, new Promise((t) => setTimeout(t, HEDGE_MS))]).catch(() => {});
        trying--;
      }
    };
    await Promise.all(Array.from({ length: host.k }, work));
    await Promise.all(pending);
    filling = false;
    // Short of relays (some are down or refused): look again soon.
    if (!left && active.size < host.k && host.relays().flat().length > active.size + refused.size)
      refill = setTimeout(fill, active.size ? 5000 : 1000);
    if (!left && !active.size && !queue.length)
      joined?.("no relay admitted it" + (refused.size ? ": " + [...refused.values()].join("; ") : ""));
  };

  const onFrame = (f: Frame, l: Link) => {
    const mine = active.get(l.relay.addr) === l;
    // A refused JOIN (too many rooms, room full, id taken or not ours): try the next relay.
    if (f.t === T.ERROR && mine && [E.ROOMS, E.MEMBERS, E.ID_TAKEN, E.ID_MISMATCH].includes(f.code)) {
      refused.set(l.relay.addr, `${l.relay.addr}: ${f.message} (${f.code})`);
      return forget(l);
    }
    if (left || !mine || !("topic" in f) || hex(f.topic) !== th) return;
    if (f.t === T.MEMBERS) {
      for (const id of f.ids) mesh.seen(hex(id), l, now());
      wake();
      joined?.();
    } else if (f.t === T.JOINED) mesh.seen(hex(f.id), l, now()), wake();
    else if (f.t === T.LEFT) mesh.left(hex(f.id), l);
    else if (f.t === T.DELIVER && !f.bcast) {
      const { from, data } = f;
      rq = rq.then(() => onSignal(from, data, l)).catch(() => {});
    }
  };
  // A relay that went away or refused the JOIN: forgotten for this room; the next in the ranking is joined.
  const forget = (l: Link) => {
    active.delete(l.relay.addr);
    mesh.down(l);
    fill();
  };
  /** Ends the wait for the join: admitted (no argument) or failed, and why. */
  let joined: ((why?: string) => void) | undefined;

  const room: Room = {
    name,
    get peers() {
      return mesh.peers().flatMap((id) => peers.get(id) ?? []);
    },
    get relays() {
      return [...active.keys()];
    },
    on: ev.on,
    off: ev.off,
    stats: mesh.st,
    send: (data) => (encodeData(data), Promise.all(room.peers.map((p) => p.send(data))).then(() => {})),
    leave() {
      if (left) return;
      clearTimeout(refill);
      for (const l of active.values()) l.send({ t: T.LEAVE, topic: keys.topic });
      host.rooms.delete(me);
      mesh.leave();
      left = true;
      clearTimeout(timer);
    },
  };

  const me: RoomIn = { frame: onFrame, down: (l) => active.get(l.relay.addr) === l && forget(l), leave: room.leave };
  host.rooms.add(me);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => joined?.("no answer from any relay"), 10000);
    joined = (why) => {
      clearTimeout(t);
      joined = undefined;
      why ? (room.leave(), reject(new Error("lumamesh: cannot join room: " + why))) : resolve();
    };
    fill();
  });
  return room;
}
