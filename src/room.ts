// Rooms (Layer 2): peers that joined the same topic exchange sealed SDP and ICE candidates through
// the relay, then talk over direct RTCPeerConnections, one per pair (a full mesh). The peer with
// the smaller id always offers, so two peers never both offer. Peer ids are the first 8 bytes of
// each browser's DTLS certificate fingerprint: checked by the relay on JOIN and by the other peer
// on the direct connection, where DTLS proves the certificate. A pair that has no direct path
// after FALLBACK ms (symmetric NAT on both sides) talks through the relay, sealed like signaling
// and paced under the relay's rate, until an ICE restart gets through. See docs/protocol.md §4.
import { createEmitter } from "./emitter.ts";
import { E, T, type Frame } from "../protocol/frames.ts";
import { deriveRoom, sealMsg, openMsg, type CryptoProvider, type RoomKeys } from "./seal.ts";
import { encodeData, createReassembler } from "../protocol/chunk.ts";
import { sendFrames } from "./send.ts";
import { hex, utf8Decode, utf8Encode } from "../protocol/bytes.ts";
import { fpId } from "../protocol/addr.ts";
import { RELAYED_OVERHEAD, Sealed } from "../protocol/sealed.ts";
import type { Net } from "./net.ts";
import type { Link } from "./link.ts";
import { rank } from "./discover.ts";

/** No direct channel after this long: relay the pair's traffic (and retry direct every RETRY). */
const FALLBACK = 3000, RETRY = 10000;

export type Path = "direct" | "relayed";
export type PeerEvents = { message: [data: unknown]; close: []; path: [path: Path] };
export interface Peer {
  /** 16 hex chars: the first 8 bytes of the peer's certificate fingerprint. */
  readonly id: string;
  readonly nick: string;
  /** "direct": our own connection; "relayed": through the relay, sealed (no direct path yet). */
  readonly path: Path;
  /** Send JSON, a string or bytes. Throws TypeError at once for what cannot be sent. */
  send(data: unknown): Promise<void>;
  on: ReturnType<typeof createEmitter<PeerEvents>>["on"];
  off: ReturnType<typeof createEmitter<PeerEvents>>["off"];
  close(): void;
}

/** Why something from a peer was refused. */
export interface RoomError {
  code: "decrypt" | "identity" | "relay";
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
  /** Sealed messages that failed to open (wrong password, tampering), and other refusals. */
  readonly stats: { rejected: number };
}

export interface JoinOptions {
  nick?: string;
  password?: string;
}

/** What a room needs from the Net it belongs to. */
export interface Self {
  net: Net;
  id: Uint8Array;
  cert?: RTCCertificate;
  crypto: CryptoProvider;
  PC: typeof RTCPeerConnection;
  /** Relays to join the room on. */
  k: number;
}

interface Member {
  id: Uint8Array;
  hid: string;
  /** We offer (our id is the smaller). */
  off: boolean;
  nick: string;
  pc?: RTCPeerConnection;
  dc?: RTCDataChannel;
  peer?: Peer & ReturnType<typeof createEmitter<PeerEvents>>;
  cands: RTCIceCandidateInit[];
  /** Relay links this peer was seen on (signaling goes through the first). */
  via: Set<Link>;
  /** Seals go out in order, numbered: the last number sent to and received from this peer. */
  q: Promise<unknown>;
  tx: number;
  rx: number;
  restart?: ReturnType<typeof setTimeout>;
  fb?: ReturnType<typeof setTimeout>;
  retry?: ReturnType<typeof setInterval>;
  /** Direct channel open and its certificate checked. */
  ok?: boolean;
  /** Traffic goes over the direct channel (ok, and ICE connected). */
  direct?: boolean;
  /** Relayed data: sends in order, and the reassembler for what arrives. */
  dq: Promise<unknown>;
  rr?: ReturnType<typeof createReassembler>;
  gone?: boolean;
}

const lt = (a: Uint8Array, b: Uint8Array) => {
  for (let i = 0; i < 8; i++) if (a[i] != b[i]) return a[i] < b[i];
  return false;
};
const same = (a: Uint8Array, b: Uint8Array) => hex(a) == hex(b);

/** First 8 bytes of the sha-256 fingerprint in an SDP, or null. */
export const sdpId = (sdp: string | undefined): Uint8Array | null => {
  const m = /a=fingerprint:sha-256 ([0-9A-Fa-f:]{95})/i.exec(sdp ?? "");
  return m ? fpId(m[1]) : null;
};

export async function joinRoom(self: Self, name: string, o: JoinOptions = {}): Promise<Room> {
  const keys: RoomKeys = await deriveRoom(self.crypto, name, o.password);
  const ev = createEmitter<RoomEvents>();
  const members = new Map<string, Member>();
  const th = hex(keys.topic);
  const nick = o.nick ?? "";
  const stats = { rejected: 0 };
  let left = false;
  let rq: Promise<unknown> = Promise.resolve();
  const warned = new Set<string>();

  const fail = (e: RoomError) => ev.emit("error", e);

  // --- signaling (and relayed data) through the relay, sealed end to end ---
  const linkOf = (m: Member) => [...m.via].find((l) => active.has(l.relay.addr)) ?? [...active.values()][0];
  // Every sealed message starts with a sequence number (u32) so a relay cannot replay one; callers
  // go through m.q, so numbers go out in order.
  const put = async (m: Member, type: number, body: Uint8Array) => {
    const pt = new Uint8Array(body.length + 4);
    new DataView(pt.buffer).setUint32(0, ++m.tx);
    pt.set(body, 4);
    const sealed = await sealMsg(self.crypto, keys, self.id, m.id, type, pt);
    const data = new Uint8Array(sealed.length + 1);
    data[0] = type;
    data.set(sealed, 1);
    linkOf(m)?.send({ t: T.SEND, topic: keys.topic, to: m.id, data });
  };
  const signal = (m: Member, type: number, body: object) =>
    (m.q = m.q.then(() => put(m, type, utf8Encode(JSON.stringify(body)))).catch(() => {}));

  // One message to one peer: over the direct channel, or chunked, sealed and paced through the relay.
  const tx = (m: Member, data: unknown): Promise<void> => {
    if (m.direct) return sendFrames(m.dc!, encodeData(data));
    const l = linkOf(m);
    if (!l) return Promise.reject(new Error("lumamesh: no path to peer " + m.hid));
    const frames = encodeData(data, l.maxFrame - RELAYED_OVERHEAD);
    const p = m.dq.then(async () => {
      for (const f of frames) await l.pace(f.length + RELAYED_OVERHEAD), await (m.q = m.q.then(() => put(m, Sealed.DATA, f)));
    });
    m.dq = p.catch(() => {});
    return p;
  };
  const deliver = (m: Member, r: ReturnType<ReturnType<typeof createReassembler>>) => {
    if (!r || !m.peer) return;
    if ("error" in r) return stats.rejected++, fail({ code: "identity", peer: m.hid, message: r.error });
    m.peer.emit("message", r.data);
    ev.emit("message", r.data, m.peer);
  };
  const setPath = (m: Member, d: boolean) => {
    if (m.direct == d) return;
    m.direct = d;
    m.peer?.emit("path", d ? "direct" : "relayed");
  };
  const mkPeer = (m: Member) => {
    const peer = (m.peer = {
      id: m.hid,
      get nick() { return m.nick; },
      get path(): Path { return m.direct ? "direct" : "relayed"; },
      ...createEmitter<PeerEvents>(),
      send: (data: unknown) => tx(m, data),
      close: () => drop(m, "closed locally"),
    });
    ev.emit("peer", peer);
  };
  // While relayed, the offerer keeps trying to get a direct path back.
  const retry = (m: Member) => (m.retry ??= setInterval(() => !m.direct && m.off && offer(m, true), RETRY));
  // No direct channel yet: the pair talks through the relay.
  const relayUp = (m: Member) => {
    if (m.gone || m.peer) return;
    retry(m);
    mkPeer(m);
  };

  const drop = (m: Member, why: string) => {
    if (m.gone) return;
    m.gone = true;
    members.delete(m.hid);
    clearTimeout(m.restart);
    clearTimeout(m.fb);
    clearInterval(m.retry);
    try { m.dc?.close(); m.pc?.close(); } catch {}
    if (m.peer) {
      m.peer.emit("close");
      ev.emit("leave", m.peer);
    }
    void why;
  };

  const connect = (m: Member) => {
    // Relays answer plain STUN Binding requests: they are this page's STUN servers.
    const iceServers = [...active.keys()].map((a) => ({ urls: "stun:" + a }));
    const pc = (m.pc = new self.PC({ iceServers, certificates: self.cert ? [self.cert] : undefined }));
    const dc = (m.dc = pc.createDataChannel("", { negotiated: true, id: 0 }));
    dc.binaryType = "arraybuffer";
    pc.onicecandidate = (e) => e.candidate && e.candidate.candidate && signal(m, Sealed.CAND, e.candidate.toJSON());
    // When the direct path fails ("disconnected" gets 2 s to recover first), traffic moves to the
    // relay and the offerer restarts ICE; once ICE is connected again, traffic moves back.
    const lost = () => (setPath(m, false), retry(m), m.off && offer(m, true));
    pc.oniceconnectionstatechange = () => {
      const s = pc.iceConnectionState;
      clearTimeout(m.restart);
      if (m.gone) return;
      if (s == "connected" || s == "completed") setPath(m, !!m.ok);
      else if (s == "failed") lost();
      else if (s == "disconnected") m.restart = setTimeout(() => pc.iceConnectionState == "disconnected" && lost(), 2000);
    };
    // The channel can open before our side has applied the answer (the answerer's checks and
    // DTLS arrive while the answer is still being opened): wait for it, then check the identity.
    dc.onopen = () => (pc.remoteDescription ? opened() : pc.addEventListener("signalingstatechange", function f() {
      if (pc.remoteDescription) pc.removeEventListener("signalingstatechange", f), opened();
    }));
    const opened = () => {
      if (m.gone || m.ok) return;
      // DTLS proved the certificate in the SDP; the id the relay routed on must be its prefix.
      const rid = sdpId(pc.remoteDescription?.sdp);
      if (!rid || !same(rid, m.id)) {
        stats.rejected++;
        fail({ code: "identity", peer: m.hid, message: `peer ${m.hid} does not hold the certificate its id names` });
        return drop(m, "identity");
      }
      m.ok = true;
      clearTimeout(m.fb);
      const rs = createReassembler();
      dc.onmessage = (e) => deliver(m, rs(new Uint8Array(e.data as ArrayBuffer)));
      if (m.peer) setPath(m, true);
      else (m.direct = true), mkPeer(m);
    };
    dc.onclose = () => drop(m, "channel closed");
  };

  const offer = async (m: Member, restart = false) => {
    if (!m.pc) connect(m);
    const pc = m.pc!;
    try {
      const d = await pc.createOffer(restart ? { iceRestart: true } : {});
      await pc.setLocalDescription(d);
      signal(m, Sealed.OFFER, { sdp: d.sdp, nick });
    } catch {}
  };

  const member = (id: Uint8Array, l: Link) => {
    const hid = hex(id);
    let m = members.get(hid);
    if (!m && !same(id, self.id)) {
      const n: Member = (m = { id: id.slice(), hid, off: lt(self.id, id), nick: "", cands: [], q: Promise.resolve(), dq: Promise.resolve(), tx: 0, rx: 0, via: new Set() });
      members.set(hid, n);
      n.fb = setTimeout(() => relayUp(n), FALLBACK);
      if (n.off) offer(n);
    }
    m?.via.add(l);
    return m;
  };

  const onSignal = async (from: Uint8Array, data: Uint8Array, l: Link) => {
    const type = data[0];
    let pt = await openMsg(self.crypto, keys, from, self.id, type, data.subarray(1));
    const hid = hex(from);
    if (!pt) {
      stats.rejected++;
      if (!warned.has(hid)) warned.add(hid), fail({ code: "decrypt", peer: hid, message: `peer ${hid}: cannot decrypt (wrong room password, or tampered with)` });
      return;
    }
    const m = member(from, l);
    if (!m) return;
    // Replayed (or stale) by a relay: not newer than the last one from this peer.
    const seq = pt.length < 4 ? 0 : new DataView(pt.buffer, pt.byteOffset).getUint32(0);
    if (seq <= m.rx) return void stats.rejected++;
    m.rx = seq;
    pt = pt.subarray(4);
    // Relayed data: the other side fell back to the relay (maybe a moment before we did).
    if (type == Sealed.DATA) return relayUp(m), deliver(m, (m.rr ??= createReassembler())(pt));
    let b: { sdp?: string; nick?: string } & RTCIceCandidateInit;
    try { b = JSON.parse(utf8Decode(pt)); } catch { return void stats.rejected++; }
    if (typeof b.nick == "string") m.nick = b.nick.slice(0, 256);
    try {
      if (type == Sealed.OFFER && !m.off) {
        if (!m.pc) connect(m);
        await m.pc!.setRemoteDescription({ type: "offer", sdp: b.sdp });
        const a = await m.pc!.createAnswer();
        await m.pc!.setLocalDescription(a);
        signal(m, Sealed.ANSWER, { sdp: a.sdp, nick });
      } else if (type == Sealed.ANSWER && m.pc && m.pc.signalingState == "have-local-offer") {
        await m.pc.setRemoteDescription({ type: "answer", sdp: b.sdp });
      } else if (type == Sealed.CAND) {
        m.cands.push(b);
      } else return;
      if (m.pc?.remoteDescription) for (const c of m.cands.splice(0)) await m.pc.addIceCandidate(c).catch(() => {});
    } catch {
      stats.rejected++;
    }
  };

  // The relays this room is joined on, picked by rendezvous hashing of the topic over every relay
  // this page knows, so pages that started from different relays still meet.
  const active = new Map<string, Link>();
  let filling = false;
  const fill = async () => {
    if (filling || left) return;
    filling = true;
    await self.net.settled();
    const queue = (await rank(keys.topic, self.net.relays, self.crypto.sha256)).filter((r) => !active.has(r.addr) && !self.net.isDown(r.addr));
    let trying = 0;
    // k workers: a relay that does not answer only holds up its own worker; the next one in the
    // ranking is tried as soon as it fails.
    const work = async () => {
      for (let r; !left && active.size + trying < self.k && (r = queue.shift()); ) {
        trying++;
        try {
          const l = await self.net.linkTo(r);
          if (!left && active.size < self.k) active.set(r.addr, l), l.send({ t: T.JOIN, topic: keys.topic, id: self.id });
        } catch {}
        trying--;
      }
    };
    await Promise.all(Array.from({ length: self.k }, work));
    filling = false;
    // Short of relays (some are down): look again soon.
    if (!left && active.size < Math.min(self.k, self.net.relays.length)) refill = setTimeout(fill, active.size ? 5000 : 1000);
  };
  let refill: ReturnType<typeof setTimeout> | undefined;

  const onFrame = (f: Frame, l: Link) => {
    // Refusals of a JOIN: too many rooms, room full, id taken, id not ours.
    if (f.t == T.ERROR) return [E.ROOMS, E.MEMBERS, E.ID_TAKEN, E.ID_MISMATCH].includes(f.code) && joinFail?.(f.message + " (" + f.code + ")");
    if (left || !("topic" in f) || hex(f.topic) != th || active.get(l.relay.addr) != l) return;
    if (f.t == T.MEMBERS) f.ids.forEach((id) => member(id, l)), joined?.();
    else if (f.t == T.JOINED) member(f.id, l);
    else if (f.t == T.LEFT) {
      // The relay says the peer's session ended; a direct channel that is still open wins
      // (the peer may only have lost its relay), so only peers without one are dropped.
      const m = members.get(hex(f.id));
      m?.via.delete(l);
      if (m && !m.via.size && m.dc?.readyState != "open") drop(m, "left");
    } else if (f.t == T.DELIVER && !f.bcast) {
      const { from, data } = f;
      rq = rq.then(() => onSignal(from, data, l)).catch(() => {});
    }
  };
  // A relay went away: forget it for this room and join on the next one in the ranking.
  const onDown = (l: Link) => {
    if (active.get(l.relay.addr) != l) return;
    active.delete(l.relay.addr);
    for (const m of [...members.values()]) m.via.delete(l);
    fill();
  };
  let joined: (() => void) | undefined;
  let joinFail: ((m: string) => void) | undefined;

  const room: Room = {
    name,
    get peers() {
      return [...members.values()].flatMap((m) => (m.peer && !m.gone ? [m.peer] : []));
    },
    get relays() {
      return [...active.keys()];
    },
    on: ev.on,
    off: ev.off,
    stats,
    send: (data) => (encodeData(data), Promise.all(room.peers.map((p) => p.send(data))).then(() => {})),
    leave() {
      if (left) return;
      left = true;
      clearTimeout(refill);
      for (const l of active.values()) l.send({ t: T.LEAVE, topic: keys.topic });
      self.net.off("frame", onFrame);
      self.net.off("linkdown", onDown);
      for (const m of [...members.values()]) drop(m, "left room");
    },
  };

  self.net.on("frame", onFrame);
  self.net.on("linkdown", onDown);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => joinFail?.("no answer from any relay"), 10000);
    joined = () => (clearTimeout(t), (joined = joinFail = undefined), resolve());
    joinFail = (msg) => (clearTimeout(t), (joined = joinFail = undefined), room.leave(), reject(new Error("lumamesh: cannot join room: " + msg)));
    fill();
  });
  return room;
}
