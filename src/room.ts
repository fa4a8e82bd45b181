// Rooms (Layer 2): peers that joined the same topic exchange sealed SDP and ICE candidates through
// the relay, then talk over direct RTCPeerConnections, one per pair (a full mesh). The peer with
// the smaller id always offers, so two peers never both offer. Peer ids are the first 8 bytes of
// each browser's DTLS certificate fingerprint: checked by the relay on JOIN and by the other peer
// on the direct connection, where DTLS proves the certificate. See docs/protocol.md §4.
import { createEmitter } from "./emitter.ts";
import { T, type Frame } from "./wire.ts";
import { deriveRoom, sealMsg, openMsg, type CryptoProvider, type RoomKeys } from "./seal.ts";
import { encodeData, createReassembler, sendFrames } from "./chunk.ts";
import { hex, utf8Decode, utf8Encode } from "./bytes.ts";
import type { Net } from "./net.ts";
import type { Link } from "./link.ts";
import { rank } from "./discover.ts";

/** Sealed signaling message types (the first byte of a SEND payload; bound into the AD). */
const OFFER = 1, ANSWER = 2, CAND = 3;

export type PeerEvents = { message: [data: unknown]; close: [] };
export interface Peer {
  /** 16 hex chars: the first 8 bytes of the peer's certificate fingerprint. */
  readonly id: string;
  readonly nick: string;
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
  /** A direct channel to this peer is open: peer.send works at once. */
  peer: [peer: Peer];
  leave: [peer: Peer];
  message: [data: unknown, peer: Peer];
  error: [e: RoomError];
};

export interface Room {
  readonly name: string;
  /** Peers with an open direct channel. */
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
  nick: string;
  pc?: RTCPeerConnection;
  dc?: RTCDataChannel;
  peer?: Peer & { ev: ReturnType<typeof createEmitter<PeerEvents>> };
  cands: RTCIceCandidateInit[];
  /** Relay links this peer was seen on (signaling goes through the first). */
  via: Set<Link>;
  /** Seals go out in order. */
  q: Promise<unknown>;
  restart?: ReturnType<typeof setTimeout>;
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
  return m ? Uint8Array.from(m[1].split(":").slice(0, 8), (h) => parseInt(h, 16)) : null;
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

  // --- signaling through the relay, sealed end to end ---
  const signal = (m: Member, type: number, body: object) =>
    (m.q = m.q.then(async () => {
      const sealed = await sealMsg(self.crypto, keys, self.id, m.id, type, utf8Encode(JSON.stringify(body)));
      const data = new Uint8Array(sealed.length + 1);
      data[0] = type;
      data.set(sealed, 1);
      const l = [...m.via].find((l) => active.has(l.relay.addr)) ?? [...active.values()][0];
      l?.send({ t: T.SEND, topic: keys.topic, to: m.id, data });
    }).catch(() => {}));

  const drop = (m: Member, why: string) => {
    if (m.gone) return;
    m.gone = true;
    members.delete(m.hid);
    clearTimeout(m.restart);
    try { m.dc?.close(); m.pc?.close(); } catch {}
    if (m.peer) {
      m.peer.ev.emit("close");
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
    pc.onicecandidate = (e) => e.candidate && e.candidate.candidate && signal(m, CAND, e.candidate.toJSON());
    // The offerer restarts ICE when the direct path fails; "disconnected" gets 2 s to recover first.
    pc.oniceconnectionstatechange = () => {
      const s = pc.iceConnectionState;
      clearTimeout(m.restart);
      if (!lt(self.id, m.id) || m.gone) return;
      if (s == "failed") offer(m, true);
      else if (s == "disconnected") m.restart = setTimeout(() => pc.iceConnectionState == "disconnected" && offer(m, true), 2000);
    };
    // The channel can open before our side has applied the answer (the answerer's checks and
    // DTLS arrive while the answer is still being opened): wait for it, then check the identity.
    dc.onopen = () => (pc.remoteDescription ? opened() : pc.addEventListener("signalingstatechange", function f() {
      if (pc.remoteDescription) pc.removeEventListener("signalingstatechange", f), opened();
    }));
    const opened = () => {
      if (m.gone || m.peer) return;
      // DTLS proved the certificate in the SDP; the id the relay routed on must be its prefix.
      const rid = sdpId(pc.remoteDescription?.sdp);
      if (!rid || !same(rid, m.id)) {
        stats.rejected++;
        fail({ code: "identity", peer: m.hid, message: `peer ${m.hid} does not hold the certificate its id names` });
        return drop(m, "identity");
      }
      const pev = createEmitter<PeerEvents>();
      const peer = (m.peer = {
        id: m.hid,
        get nick() { return m.nick; },
        ev: pev,
        on: pev.on,
        off: pev.off,
        send(data: unknown) {
          const frames = encodeData(data);
          return sendFrames(dc, frames);
        },
        close: () => drop(m, "closed locally"),
      });
      const rs = createReassembler();
      dc.onmessage = (e) => {
        const r = rs(new Uint8Array(e.data as ArrayBuffer));
        if (!r) return;
        if ("error" in r) return stats.rejected++, fail({ code: "identity", peer: m.hid, message: r.error });
        pev.emit("message", r.data);
        ev.emit("message", r.data, peer);
      };
      ev.emit("peer", peer);
    };
    dc.onclose = () => drop(m, "channel closed");
  };

  const offer = async (m: Member, restart = false) => {
    if (!m.pc) connect(m);
    const pc = m.pc!;
    try {
      const d = await pc.createOffer(restart ? { iceRestart: true } : {});
      await pc.setLocalDescription(d);
      signal(m, OFFER, { sdp: d.sdp, nick });
    } catch {}
  };

  const member = (id: Uint8Array, l: Link) => {
    const hid = hex(id);
    let m = members.get(hid);
    if (!m && !same(id, self.id)) {
      members.set(hid, (m = { id: id.slice(), hid, nick: "", cands: [], q: Promise.resolve(), via: new Set() }));
      m.via.add(l);
      if (lt(self.id, id)) offer(m);
    }
    m?.via.add(l);
    return m;
  };

  const onSignal = async (from: Uint8Array, data: Uint8Array, l: Link) => {
    const type = data[0];
    const pt = await openMsg(self.crypto, keys, from, self.id, type, data.subarray(1));
    const hid = hex(from);
    if (!pt) {
      stats.rejected++;
      if (!warned.has(hid)) warned.add(hid), fail({ code: "decrypt", peer: hid, message: `messages from peer ${hid} do not decrypt: wrong room password, or tampered in transit` });
      return;
    }
    const m = member(from, l);
    if (!m) return;
    let b: { sdp?: string; nick?: string } & RTCIceCandidateInit;
    try { b = JSON.parse(utf8Decode(pt)); } catch { return void stats.rejected++; }
    if (typeof b.nick == "string") m.nick = b.nick.slice(0, 256);
    try {
      if (type == OFFER && !lt(self.id, from)) {
        if (!m.pc) connect(m);
        await m.pc!.setRemoteDescription({ type: "offer", sdp: b.sdp });
        const a = await m.pc!.createAnswer();
        await m.pc!.setLocalDescription(a);
        signal(m, ANSWER, { sdp: a.sdp, nick });
      } else if (type == ANSWER && m.pc && m.pc.signalingState == "have-local-offer") {
        await m.pc.setRemoteDescription({ type: "answer", sdp: b.sdp });
      } else if (type == CAND) {
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
      rq = rq.then(() => onSignal(from, data, l));
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
  // Refusals of a JOIN: too many rooms, room full, id taken, id not ours.
  const onError = (f: Frame) => f.t == T.ERROR && [202, 203, 301, 303].includes(f.code) && joinFail?.(f.message + " (" + f.code + ")");
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
    send: (data) => {
      const frames = encodeData(data);
      return Promise.all(room.peers.map((p) => sendFrames(members.get(p.id)!.dc!, frames))).then(() => {});
    },
    leave() {
      if (left) return;
      left = true;
      clearTimeout(refill);
      for (const l of active.values()) l.send({ t: T.LEAVE, topic: keys.topic });
      self.net.off("frame", onFrame);
      self.net.off("frame", onError);
      self.net.off("linkdown", onDown);
      for (const m of [...members.values()]) drop(m, "left room");
    },
  };

  self.net.on("frame", onFrame);
  self.net.on("frame", onError);
  self.net.on("linkdown", onDown);
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => joinFail?.("no answer from any relay"), 10000);
    joined = () => (clearTimeout(t), (joined = joinFail = undefined), resolve());
    joinFail = (msg) => (clearTimeout(t), (joined = joinFail = undefined), room.leave(), reject(new Error("lumamesh: cannot join room: " + msg)));
    fill();
  });
  return room;
}
