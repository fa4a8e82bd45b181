// werift adapter, sessions: a DTLS 1.2 + SCTP + DataChannel session over a datagram transport the
// CALLER owns. The relay has one UDP socket for every session, demultiplexes by remote address and
// feeds each session's DTLS datagrams to `receive()`; the session hands datagrams back through
// `transmit()`. Only one DataChannel exists per session: the negotiated channel id 0 (no DCEP),
// binary messages (PPID 53/57). Node `Buffer` and werift's `Event<T>` stop here: the API is
// Uint8Array and callbacks. werift is imported here and in relay/werift-patches.ts only (pinned 0.25.2).
//
// Wiring (why each piece is used the way it is; werift's bugs: docs/werift-bugs.md):
//  - DtlsServer / DtlsClient run over a tiny `Transport` object ({send, onData, close}).
//    RTCDtlsTransport is not used: it wants the peer fingerprint up front and a role
//    from ICE. No RTCPeerConnection, no ICE agent, no SRTP (no use_srtp extension).
//  - SCTP: one bare association per session (werift's class, patched: relay/werift-patches.ts), no
//    RTCSctpTransport, no RTCDataChannel, no stand-in DTLS transport: channel 0 is negotiated, so
//    DCEP is not needed, and remote DCEP OPENs are ignored instead of allocating channels.
//  - Everything werift misses for a relay is done here: records are filtered before they
//    reach werift (post-handshake plaintext is dropped: a spoofed ClientHello would
//    otherwise reset the session), alerts are authenticated here (werift closes on any
//    alert, even unauthenticated ones), close sends a real close_notify (werift's close()
//    sends nothing), the client verifies the ServerKeyExchange signature and the server
//    the client's CertificateVerify (werift checks neither), and every werift promise gets
//    a catch (werift's SCTP data path rejects on malformed input: an unhandled rejection).
//  - Once the handshake is done, application-data records are sealed and opened here with the keys
//    werift derived (relay/dtls-aead.ts), not by werift's record layer, and an SCTP HEARTBEAT alone in
//    its packet is answered here (heartbeatAck): the two things every idle link does, at a fraction
//    of werift's cost per record. Alerts and handshake retransmissions still go through the gate below.

import { verify, X509Certificate } from "node:crypto";
import { DtlsClient, DtlsServer, HashAlgorithm, SignatureAlgorithm, type Transport } from "werift";
import { checkSctpPacket, hasChunk } from "./sctp-check.ts";
import { FP_RE } from "../protocol/addr.ts";
import type { Guard } from "./sctp-harden.ts";
import { CT, DTLS_1_2, HS, Reassembler, handshakeRecord, helloStart, parseHandshakes, withoutCookie } from "./dtls-records.ts";
import { fingerprintOf, normFp, signerOf, type Certificate } from "./cert.ts";
import { openRecord, recordKeysOf, sealRecord, type RecordKeys } from "./dtls-aead.ts";
import { crc32cPacket } from "./crc32c.ts";
import {
  lightenEvents,
  patchWerift,
  quietWerift,
  sctpClass,
  RTO_BACKOFF_MAX,
  RTO_INITIAL,
  type Sctp,
  type SctpRto,
} from "./werift-patches.ts";

export interface SessionHandlers {
  /** send one datagram to this session's remote address */
  transmit(datagram: Uint8Array): void;
  /** channel id 0 open (DTLS done, SCTP established) */
  onOpen(): void;
  /** one binary DataChannel message */
  onMessage(msg: Uint8Array): void;
  /** exactly once: 'dtls-closed' | 'sctp-closed' | 'fingerprint-mismatch' | 'handshake-failed: …' | 'closed-locally'
   *  | 'send-queue-full' | 'retransmit-limit' | 'sctp-message-too-long' */
  onClose(reason: string): void;
  /** Input dropped before werift saw it (a reason such as 'sctp.chunk-length-under-4'); counted by the caller. */
  onDrop?(reason: string): void;
  /** An authenticated (decrypted) record arrived: the peer is alive. */
  onAlive?(): void;
}

export interface SessionLimits {
  /** Largest message received (bytes); a longer one ends the session. */
  maxMessageSize?: number;
  /** Bytes queued towards the peer (not yet acknowledged) at most; beyond, the session ends (send-queue-full). */
  maxQueued?: number;
  /** SCTP retransmission timeouts in a row without progress before the session ends (retransmit-limit). */
  maxRetransmits?: number;
}

export interface ChannelSession {
  /** a DTLS datagram from the socket; never throws (garbage is dropped) */
  receive(datagram: Uint8Array): void;
  /** binary message (PPID 53) on channel id 0; false if not open. RangeError if over the peer's max message size. */
  send(msg: Uint8Array): boolean;
  readonly bufferedAmount: number;
  /** peer cert fingerprint once DTLS is done */
  readonly remoteFingerprint: string | undefined;
  /** graceful: SCTP ABORT + DTLS close_notify; then onClose('closed-locally') */
  close(): void;
}

const SCTP_PORT = 5000;
const SCTP_ABORT = 6;
const SCTP_HEARTBEAT = 4;
const SCTP_HEARTBEAT_ACK = 5;
const SCTP_ESTABLISHED = 4;
const PPID_BINARY = 53;
const PPID_BINARY_EMPTY = 57;
/** RFC 8841 default a=max-message-size when the SDP says nothing. */
const DEFAULT_MAX_MESSAGE_SIZE = 65536;
/** SCTP receive window we advertise: bounds what a well-behaved peer keeps in flight at us. */
const RECEIVE_WINDOW = 256 * 1024;

const SESSION_SERVER = 2; // werift SessionType.SERVER
const HS_SERVER_KEY_EXCHANGE = 12;
const HS_CERTIFICATE_VERIFY = 15;
const HS_FINISHED = 20;
const HS_SERVER_HELLO_DONE = 14;

type Dtls = DtlsServer | DtlsClient;

const noop = () => {};
const DONE: Promise<void> = /* @__PURE__ */ Promise.resolve();
/** SCTP members werift marks private that the adapter needs. */
interface SctpPrivate {
  handleData(buf: Buffer): Promise<void>;
  advertisedRwnd: number;
  lm?: Guard;
  flightSize: number;
  outboundQueue: { userData: Buffer }[];
  lastSackedTsn: number;
  timer3Expired: () => void;
  associationState: number;
  localPort: number;
  remotePort?: number;
  localVerificationTag: number;
  remoteVerificationTag: number;
  isStopped?: boolean;
}
/** SCTP retransmission timeouts in a row with no new acknowledgement before the session is given up
 *  (RFC 9260 §8.1 Association.Max.Retrans is 10; from RTO.Min 200 ms doubling up to 10 s, 8 take ~30 s). */
const MAX_RTX = 8;
const DEFAULT_MAX_QUEUED = 512 * 1024;
const u8 = (b: Buffer): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);

interface Role {
  server: boolean;
  cert: Certificate;
  expectFp?: string;
  maxMessageSize: number;
  maxQueued: number;
  maxRetransmits: number;
}

/** Largest datagram built by putting several records together (a longer record goes alone): the IPv6
 *  minimum MTU less IPv6 and UDP headers, with room to spare, as browsers size theirs. */
export const MAX_DATAGRAM = 1200;

/** Sessions with datagrams to send at the end of this turn of the event loop (see lower.send). */
const outbox: (() => void)[] = [];
function flushOutbox() {
  // A flush that makes another session write (a send error closing it, say) adds to this pass.
  for (let i = 0; i < outbox.length; i++) outbox[i]!();
  outbox.length = 0;
}

function createSession(role: Role, h: SessionHandlers): ChannelSession {
  patchWerift();
  let closed = false;
  let open = false;
  let connected = false; // DTLS handshake done and verified
  let remoteFp: string | undefined;
  let buffered = 0;
  let sctp: Sctp | undefined;
  /** Record keys once the handshake is done: application data is sealed and opened here (relay/dtls-aead.ts). */
  let keys: RecordKeys | undefined;
  /** The peer sent an SCTP ABORT (authenticated: it came inside DTLS). */
  let peerAborted = false;
  /** While true, werift's datagrams are not sent (its HelloVerifyRequest: the core sent ours). */
  let mute = false;
  const drop = (reason: string) => {
    try {
      h.onDrop?.(reason);
    } catch {
      /* counting must not break the session */
    }
  };
  let gate: Gate = { server: role.server, reasm: new Reassembler(), done: new Map(), ahead: new Map(), drop };

  // werift hands over one record per call: a flight of five handshake messages was five datagrams
  // (five send syscalls, on both ends), an SCTP SACK and the DATA after it two. Records written in
  // one turn of the event loop leave together at its end, packed into datagrams of at most
  // MAX_DATAGRAM bytes (RFC 6347 §4.1.1: several records may share a datagram).
  let pending: Buffer[] = [];
  const flush = () => {
    const q = pending;
    pending = [];
    for (let i = 0; i < q.length; ) {
      let n = q[i]!.length,
        j = i + 1;
      while (j < q.length && n + q[j]!.length <= MAX_DATAGRAM) n += q[j++]!.length;
      try {
        h.transmit(j === i + 1 ? u8(q[i]!) : u8(Buffer.concat(q.slice(i, j), n)));
      } catch {
        /* the caller's socket error is not ours */
      }
      i = j;
    }
  };
  // werift's Transport shape; `onData` is set by DtlsSocket and called by receive() below.
  const lower: Transport = {
    type: "lumamesh",
    address: {} as Transport["address"],
    closed: false,
    send: (buf: Buffer) => {
      // What was written before close() still leaves (the goodbyes); nothing after it.
      if (!closed && !mute) {
        if (!pending.length) {
          if (!outbox.length) setImmediate(flushOutbox);
          outbox.push(flush);
        }
        pending.push(buf);
      }
      return DONE;
    },
    onData: noop,
    close: () => DONE,
  };
  // No PEM for werift to parse (it would, in every session, with @fidm/x509): the certificate and a
  // signer over a key object made once per certificate (relay/cert.ts signerOf).
  const options = {
    transport: lower,
    signatureHash: { hash: HashAlgorithm.sha256_4, signature: SignatureAlgorithm.ecdsa_3 },
    extendedMasterSecret: true,
    // Server: ask for the browser's certificate so its fingerprint is known (peer identity).
    certificateRequest: role.server,
  };
  const dtls: Dtls = role.server ? new DtlsServer(options) : new DtlsClient(options);
  lightenEvents(dtls, ["onConnect", "onData", "onError", "onClose"]);
  const signer = signerOf(role.cert);
  dtls.cipher.localCert = signer.certDer;
  dtls.cipher.signatureHashAlgorithm = options.signatureHash;
  // Server: ServerKeyExchange (werift calls localPrivateKey.sign); client: CertificateVerify (signatureData).
  (dtls.cipher as unknown as { localPrivateKey: unknown }).localPrivateKey = signer;
  (dtls.cipher as unknown as { signatureData: (d: Buffer, hash: string) => Buffer }).signatureData = (d, hash) => signer.sign(d, hash);

  const finish = (reason: string) => {
    if (closed) return;
    closed = true;
    open = false;
    if (sctp) {
      const s = sctp;
      sctp = undefined;
      s.onReceive.allUnsubscribe();
      s.setState(1 /* CLOSED: cancels every SCTP timer */);
    }
    dtls.onConnect.allUnsubscribe();
    dtls.onData.allUnsubscribe();
    dtls.onError.allUnsubscribe();
    dtls.onClose.allUnsubscribe();
    try {
      h.onClose(reason);
    } catch {
      /* a throwing handler must not break teardown */
    }
  };

  const sendAlert = (level: number, desc: number) => {
    // werift's DtlsSocket.close() sends nothing; build an encrypted alert record (RFC 6347 §4.1).
    try {
      // Keys exist once our Finished went out (epoch 1), even before our own checks pass.
      const epoch = dtls.dtls.epoch;
      if (epoch === 0 || !dtls.cipher.cipher) return;
      const seqNo = ++dtls.dtls.recordSequenceNumber;
      const frag = dtls.cipher.cipher.encrypt(dtls.sessionType, Buffer.from([level, desc]), {
        type: CT.ALERT,
        version: DTLS_1_2,
        epoch,
        sequenceNumber: seqNo,
      });
      const rec = Buffer.alloc(13 + frag.length);
      rec[0] = CT.ALERT;
      rec.writeUInt16BE(DTLS_1_2, 1);
      rec.writeUInt16BE(epoch, 3);
      rec.writeUIntBE(seqNo, 5, 6);
      rec.writeUInt16BE(frag.length, 11);
      frag.copy(rec, 13);
      lower.send(rec);
    } catch {
      /* best effort */
    }
  };

  const fail = (reason: string, alert?: number) => {
    if (closed) return;
    if (alert !== undefined) sendAlert(2, alert);
    finish(reason);
  };

  dtls.onError.subscribe((e: unknown) => fail(`handshake-failed: ${e instanceof Error ? e.message : String(e)}`));
  dtls.onClose.subscribe(() => fail("dtls-closed"));
  /** One decrypted application-data record: an SCTP packet. */
  const appData = (buf: Buffer) => {
    if (!sctp) return;
    try {
      h.onAlive?.();
    } catch {
      /* as above */
    }
    // An idle browser's HEARTBEAT every 30 s: answered here, without werift (see heartbeatAck).
    if (keys && heartbeatAck(sctp as unknown as SctpPrivate, buf, sealApp)) return;
    if (hasChunk(buf, SCTP_ABORT)) peerAborted = true; // before werift closes on it (synchronously)
    sctpInput(sctp, buf, drop);
  };
  dtls.onData.subscribe(appData);
  /** One SCTP packet out, as an application-data record sealed with this session's keys. */
  const sealApp = (data: Uint8Array) => {
    const ctx = dtls.dtls;
    lower.send(sealRecord(keys!, CT.APPLICATION_DATA, DTLS_1_2, ctx.epoch, ++ctx.recordSequenceNumber, data));
  };
  dtls.onConnect.subscribe(() => {
    // DtlsClient fires onConnect again on every retransmitted server Finished.
    if (connected || closed) return;
    const der = dtls.remoteCertificate;
    if (!der) return fail("handshake-failed: no peer certificate", 42);
    const fp = fingerprintOf(der);
    if (role.expectFp !== undefined && fp !== role.expectFp) return fail("fingerprint-mismatch", 42 /* bad_certificate */);
    const proof = role.server ? checkCertificateVerify(dtls, der) : checkServerKeyExchange(dtls, der);
    if (proof) return fail(`handshake-failed: ${proof}`, 51 /* decrypt_error */);
    remoteFp = fp;
    connected = true;
    // werift sends its Finished as epoch 1 with the epoch-0 record counter (sequence 8 or so), then
    // resets the counter and numbers application data 1, 2, 3… (dtls/src/flight/server/flight6.js
    // sendFinished, client/flight5.js). The application record that reaches the Finished's number is a
    // replay to the peer and is dropped (RFC 6347 §4.1.2.6): measured as Chromium silently losing one
    // early frame per session (a JOINED, a PONG) until SCTP retransmitted it. Start above it.
    const ctx = (dtls as unknown as { dtls: { recordSequenceNumber: number } }).dtls;
    ctx.recordSequenceNumber = Math.max(ctx.recordSequenceNumber, 1024);
    keys = recordKeysOf(dtls.cipher.cipher as Parameters<typeof recordKeysOf>[0], role.server);
    release(dtls);
    // The gate's handshake state is done with: every session shares one empty gate from here on
    // (filterRecords reads nothing of it once connected), and its Maps are garbage.
    gate = role.server ? CONNECTED_GATE_SERVER : CONNECTED_GATE_CLIENT;
    startSctp();
  });

  if (dtls instanceof DtlsClient) {
    const client = dtls;
    // Deferred so the caller holds the session before the first transmit() happens.
    queueMicrotask(() => {
      if (!closed) client.connect().catch((e: unknown) => fail(`handshake-failed: ${e instanceof Error ? e.message : String(e)}`));
    });
  }

  const startSctp = () => {
    const s = new (sctpClass())(
      {
        send: (data: Buffer) => (closed ? DONE : keys ? (sealApp(data), DONE) : dtls.send(data).catch(noop)),
        close: noop,
      },
      SCTP_PORT,
    );
    lightenEvents(s, ["flush", "onReconfigStreams", "onReceive"]);
    sctp = s;
    (s as unknown as SctpRto).rto = RTO_INITIAL;
    s.isServer = role.server;
    const sp = s as unknown as SctpPrivate;
    sp.advertisedRwnd = RECEIVE_WINDOW;
    sp.lm = { maxMessage: role.maxMessageSize, drop, violation: (r) => fail(r) };
    // The relay knows its peers are alive from their ICE consent checks (relay/core.ts: lastSeen);
    // werift's own HEARTBEAT every 30 s per association would cost every idle session two datagrams
    // per 30 s and tell nothing more. A client (a browser, or relay/client.ts) still sends its own,
    // which are answered as always.
    if (role.server) (s as unknown as { heartbeatStart(): void }).heartbeatStart = noop;
    // werift's T3-rtx timer neither backs off (RFC 9260 §6.3.3 E2: RTO doubles on each expiry) nor
    // ever gives up (§8.1): it resends everything at RTO.Min forever. Back off here (up to
    // RTO_BACKOFF_MAX), and give up after maxRetransmits expiries without progress (~30 s).
    const t3 = sp.timer3Expired;
    let rtx = 0,
      acked = NaN;
    sp.timer3Expired = () => {
      if (sp.lastSackedTsn !== acked) (acked = sp.lastSackedTsn), (rtx = 0);
      if (++rtx > role.maxRetransmits) return fail("retransmit-limit");
      const r = s as unknown as SctpRto;
      r.rto = Math.min(r.rto * 2, RTO_BACKOFF_MAX);
      t3();
    };
    s.onReceive.subscribe((streamId: number, ppid: number, data: Buffer) => {
      if (closed || streamId !== 0) return; // only the negotiated channel 0; DCEP OPENs ignored
      if (ppid !== PPID_BINARY && ppid !== PPID_BINARY_EMPTY) return; // strings: not our protocol
      if (data.length > role.maxMessageSize) return;
      try {
        h.onMessage(ppid === PPID_BINARY_EMPTY ? new Uint8Array(0) : u8(data));
      } catch {
        /* handler errors stay with the handler */
      }
    });
    s.stateChanged.connected.subscribe(() => {
      if (closed || open) return;
      open = true;
      try {
        h.onOpen();
      } catch {
        /* as above */
      }
    });
    s.stateChanged.closed.subscribe(() => {
      if (closed) return;
      // close_notify, unless the peer itself aborted (a browser closing its RTCPeerConnection sends
      // ABORT and is gone: our alert would only come back as ICMP port unreachable).
      if (!peerAborted) sendAlert(1, 0);
      finish("sctp-closed");
    });
    s.start(SCTP_PORT).catch(noop);
  };

  const session: ChannelSession = {
    receive(datagram: Uint8Array) {
      if (closed) return;
      try {
        const buf = Buffer.from(datagram.buffer, datagram.byteOffset, datagram.byteLength);
        if (keys && appRecordsOnly(buf)) {
          // The common case once open: application data only, opened here (werift's record layer is
          // not needed for it). Anything else (an alert, a retransmitted Finished) goes through the gate.
          for (let o = 0; o < buf.length && !closed; ) {
            const end = o + 13 + buf.readUInt16BE(o + 11);
            const plain = openRecord(keys, buf.subarray(o, end));
            if (plain) appData(plain);
            o = end;
          }
          return;
        }
        for (const x of filterRecords(buf, connected, dtls, fail, gate)) {
          if (closed) return;
          mute = !!x.mute;
          try {
            lower.onData(x.rec, undefined as unknown as Parameters<Transport["onData"]>[1]);
          } finally {
            mute = false;
          }
          x.after?.();
        }
      } catch {
        /* dropped: werift's parsers throw on garbage */
      }
    },
    send(msg: Uint8Array): boolean {
      const s = sctp;
      if (closed || !open || !s) return false;
      if (!(msg instanceof Uint8Array)) throw new TypeError("werift: send() takes a Uint8Array");
      if (msg.length > DEFAULT_MAX_MESSAGE_SIZE) {
        throw new RangeError(`werift: message of ${msg.length} bytes exceeds max-message-size ${DEFAULT_MAX_MESSAGE_SIZE}`);
      }
      // A peer that does not acknowledge must not make the relay hold its frames without bound.
      const sp = s as unknown as SctpPrivate;
      let queued = sp.flightSize; // sent, not yet acknowledged; then what waits in the queue
      for (const c of sp.outboundQueue) queued += c.userData.length;
      if (queued + msg.length > role.maxQueued) {
        fail("send-queue-full");
        return false;
      }
      const empty = msg.length === 0;
      // Copy: the caller may reuse its buffer; SCTP keeps chunks until they are acknowledged.
      const data = empty ? Buffer.from([0]) : Buffer.from(msg);
      buffered += msg.length;
      const n = msg.length;
      s.send(0, empty ? PPID_BINARY_EMPTY : PPID_BINARY, data, { ordered: true, expiry: undefined, maxRetransmits: undefined })
        .catch(noop)
        .finally(() => {
          buffered -= n;
        });
      return true;
    },
    get bufferedAmount() {
      return buffered;
    },
    get remoteFingerprint() {
      return remoteFp;
    },
    close() {
      if (closed) return;
      const s = sctp;
      if (s && open) {
        // stop() sends ABORT synchronously (its first await is after transmit) and cancels timers.
        s.onReceive.allUnsubscribe();
        s.stop().catch(noop);
      }
      sendAlert(1, 0); // close_notify
      finish("closed-locally");
    },
  };
  rawSenders.set(session, (b) => void dtls.send(Buffer.from(b)).catch(noop));
  associations.set(session, () => sctp);
  return session;
}

/** Whether a datagram is whole application-data records of epoch ≥ 1 and nothing else. */
function appRecordsOnly(buf: Buffer): boolean {
  let o = 0;
  while (o + 13 <= buf.length) {
    if (buf[o] !== CT.APPLICATION_DATA || (buf[o + 3] === 0 && buf[o + 4] === 0)) return false;
    o += 13 + buf.readUInt16BE(o + 11);
  }
  return o === buf.length && o > 0;
}

/**
 * A packet that is one SCTP HEARTBEAT and nothing else, for this association, with a good checksum:
 * answered with its HEARTBEAT ACK (RFC 9260 §8.3: the Heartbeat Information echoed unchanged), built
 * here, and true. An idle browser sends one every 30 s per link; through werift each cost a packet
 * parse, chunk objects, a re-serialization and two checksum copies. Anything else (false) takes
 * werift's path, shape check first.
 */
function heartbeatAck(s: SctpPrivate, p: Buffer, send: (pkt: Uint8Array) => void): boolean {
  if (p.length < 20 || p[12] !== SCTP_HEARTBEAT) return false;
  const len = p.readUInt16BE(14);
  if (len < 8 || 12 + len > p.length || p.length - 12 - len > 3) return false;
  if (s.associationState !== SCTP_ESTABLISHED || s.isStopped || s.remotePort === undefined) return false;
  if (p.readUInt32BE(4) !== s.localVerificationTag || p.readUInt32LE(8) !== crc32cPacket(p) || checkSctpPacket(p)) return false;
  const out = Buffer.alloc(12 + len + ((4 - (len % 4)) % 4));
  out.writeUInt16BE(s.localPort, 0);
  out.writeUInt16BE(s.remotePort, 2);
  out.writeUInt32BE(s.remoteVerificationTag, 4);
  out[12] = SCTP_HEARTBEAT_ACK;
  out.writeUInt16BE(len, 14);
  p.copy(out, 16, 16, 12 + len);
  out.writeUInt32LE(crc32cPacket(out), 8);
  send(out);
  return true;
}

/** A retransmitted handshake message is passed on to werift (which answers it by resending its own
 *  flight) at most once per REPLAY_GAP_MS: a spoofed copy cannot make the relay send faster than that,
 *  and a client on a lossy path (or a relay whose socket buffer overflowed in a burst) that keeps
 *  retransmitting is answered for as long as the handshake may last. A count instead (4, before
 *  issue 17) left a client whose flights were lost more often than that waiting for ever. */
const REPLAY_GAP_MS = 400;

/** Per-session state of the record gate before the handshake completes. */
interface Gate {
  server: boolean;
  /** Bounded reassembly of fragmented handshake messages (relay/dtls-records.ts). */
  reasm: Reassembler;
  /** Whole handshake messages already passed on, by message_seq, and when: a retransmission is passed
   *  again, once per REPLAY_GAP_MS at most (each makes werift resend its flight: a spoofed copy must not amplify). */
  done: Map<number, { rec: Buffer; at: number }>;
  /** Server: the client random of the ClientHello this session serves. */
  random?: Uint8Array;
  /** The message_seq werift gets next (RFC 6347 §4.2.2 next_receive_seq): werift processes
   *  handshake messages in the order they come, and a lost Certificate makes it fail the session on
   *  the CertificateVerify that overtook it. Messages ahead of it wait here (a few, whole). */
  next?: number;
  ahead: Map<number, Buffer>;
  /** The peer's encrypted Finished, when it came while an earlier message of its flight was missing
   *  (werift cannot decrypt it yet): given again once the gap is filled. */
  early?: Buffer;
  drop(reason: string): void;
}
/** The gate of every session whose handshake is done: filterRecords, once connected, drops epoch-0
 *  records and handles alerts and handshake records without it; frozen so that nothing writes to it. */
const connectedGate = (server: boolean): Gate =>
  Object.freeze({ server, reasm: new Reassembler(0), done: new Map(), ahead: new Map(), drop: noop });
const CONNECTED_GATE_SERVER = /* @__PURE__ */ connectedGate(true),
  CONNECTED_GATE_CLIENT = /* @__PURE__ */ connectedGate(false);
/** Handshake messages held ahead of a missing one, at most, and how far ahead. */
const MAX_AHEAD = 4,
  MAX_AHEAD_SEQ = 8;

/**
 * Record layer gate (RFC 6347 §4.1: type(1) version(2) epoch(2) seq(6) length(2) fragment).
 * Before the handshake completes, plaintext handshake records are taken apart here: fragments are
 * reassembled within fixed bounds (werift would allocate what a header claims and buffer fragments
 * without limit) and werift gets each message whole, one record each. A server session exists
 * only because the core checked a ClientHello's cookie (relay/core.ts): its first ClientHello is
 * given to werift twice — without the cookie, muted, so werift sets up its flight-2 state exactly
 * once, then as sent — and a ClientHello from another client (another random) never reaches it.
 * After the handshake: only epoch ≥ 1 records pass (a plaintext ClientHello would make werift
 * reset the session — renegotiation() — and a plaintext alert would close it: both spoofable),
 * and alerts are decrypted here; only an authentic one closes the session.
 */
function filterRecords(buf: Buffer, connected: boolean, dtls: Dtls, fail: (r: string) => void, g: Gate): Pass[] {
  const keep: Pass[] = [];
  let o = 0;
  while (o + 13 <= buf.length) {
    const type = buf[o]!;
    const epoch = buf.readUInt16BE(o + 3);
    const len = buf.readUInt16BE(o + 11);
    if (o + 13 + len > buf.length) break;
    const rec = buf.subarray(o, o + 13 + len);
    o += 13 + len;
    if (type < CT.CHANGE_CIPHER_SPEC || type > CT.APPLICATION_DATA) continue;
    if (type === CT.ALERT) {
      if (!connected) {
        // Pre-handshake alerts are plaintext by nature; werift swallows fatal ones, so report here.
        if (epoch === 0 && len === 2) fail(`handshake-failed: alert ${rec[14]}`);
        continue;
      }
      if (epoch === 0 || !authentic(dtls, rec, epoch)) continue; // forged
      fail("dtls-closed");
      return [];
    }
    if (connected && epoch === 0) continue;
    if (connected && type === CT.HANDSHAKE) {
      // The peer retransmits its last flight when our last one was lost. werift would look for
      // the handshake transcript we released; answer here instead (server: resend flight 6),
      // but only to an authentic record.
      if (dtls instanceof DtlsServer && authentic(dtls, rec, epoch))
        for (const b of dtls.dtls.lastMessage) dtls.transport.send(b).catch(() => {});
      continue;
    }
    if (type === CT.HANDSHAKE && epoch === 0) {
      handshake(rec, dtls, g, keep);
      continue;
    }
    if (type === CT.HANDSHAKE && g.ahead.size) g.early = Buffer.from(rec);
    keep.push({ rec });
  }
  return keep;
}

/** A record for werift: muted (what werift sends meanwhile is dropped), and what to do after it. */
interface Pass {
  rec: Buffer;
  mute?: boolean;
  after?: () => void;
}

/** One plaintext handshake record before the handshake completed: see filterRecords. */
function handshake(rec: Buffer, dtls: Dtls, g: Gate, keep: Pass[]) {
  const frags = parseHandshakes(rec.subarray(13));
  if (!frags) return g.drop("dtls.bad-handshake-header");
  const version = rec.readUInt16BE(1),
    seq = rec.readUIntBE(5, 6);
  for (const f of frags) {
    if (g.server && g.random && f.msgType === HS.CLIENT_HELLO && f.offset === 0) {
      const hs = helloStart(f.data);
      if (!hs || !Buffer.from(g.random).equals(Buffer.from(hs.random))) {
        g.drop("dtls.hello-other-client");
        continue;
      }
    }
    const seen = g.done.get(f.messageSeq);
    if (seen) {
      // A retransmitted message. The last message of the peer's flight makes werift resend its own
      // flight (ours was lost); every other one was taken already and is not given again: werift
      // would process it anew (a second ClientKeyExchange recomputes the extended master secret
      // over a transcript that has grown since: wrong keys, and the handshake never completes).
      const now = performance.now();
      if (
        f.offset !== 0 ||
        !(g.server ? f.msgType === HS.CLIENT_HELLO : f.msgType === HS.HELLO_VERIFY_REQUEST || f.msgType === HS_SERVER_HELLO_DONE)
      )
        continue;
      if (now - seen.at >= REPLAY_GAP_MS) (seen.at = now), keep.push({ rec: seen.rec });
      else g.drop("dtls.retransmit-too-soon");
      continue;
    }
    const r = g.reasm.add(f);
    if (r === "partial") continue;
    if (typeof r === "string") {
      g.drop("dtls.fragment-" + r);
      continue;
    }
    if (g.server && r.msgType === HS.CLIENT_HELLO) {
      const hs = helloStart(r.body);
      if (!hs || hs.cookie.length === 0) {
        g.drop("dtls.hello-without-cookie");
        continue;
      }
      if (g.random && !Buffer.from(g.random).equals(Buffer.from(hs.random))) {
        g.drop("dtls.hello-other-client");
        continue;
      }
      if (!g.random) {
        g.random = Uint8Array.from(hs.random);
        dtls.dtls.cookie = Buffer.from(hs.cookie);
        // werift's flight 2 restarts its record numbering (at 1). The core's HelloVerifyRequests
        // echoed the record numbers of the client's first hellos (RFC 6347 §4.2.1), all below this
        // one's: flight 4 must start above them, or a client that got two HelloVerifyRequests (it
        // resent its first hello) drops the ServerHello as a replay of the second, for ever.
        keep.push({
          rec: Buffer.from(handshakeRecord(seq, version, HS.CLIENT_HELLO, 0, withoutCookie(r.body, hs))),
          mute: true,
          after: () => void (dtls.dtls.recordSequenceNumber = Math.max(dtls.dtls.recordSequenceNumber, seq)),
        });
      }
    }
    const whole = Buffer.from(handshakeRecord(seq, version, r.msgType, r.messageSeq, r.body));
    if (g.next !== undefined && r.messageSeq !== g.next) {
      // Ahead of a message still missing (lost, or overtaken): wait for it. Behind: cannot happen
      // (everything below `next` went to werift and is in `done`), unless `done` was full.
      if (r.messageSeq > g.next && r.messageSeq - g.next <= MAX_AHEAD_SEQ && (g.ahead.size < MAX_AHEAD || g.ahead.has(r.messageSeq)))
        g.ahead.set(r.messageSeq, whole);
      else g.drop("dtls.handshake-out-of-order");
      continue;
    }
    pass(g, r.messageSeq, whole, keep);
    let filled = false;
    for (let m; (m = g.ahead.get(g.next!)); filled = true) g.ahead.delete(g.next!), pass(g, g.next!, m, keep);
    if (filled && !g.ahead.size && g.early) keep.push({ rec: g.early }), (g.early = undefined);
  }
}

function pass(g: Gate, messageSeq: number, whole: Buffer, keep: Pass[]) {
  if (g.done.size < 16) g.done.set(messageSeq, { rec: whole, at: performance.now() });
  g.next = messageSeq + 1;
  keep.push({ rec: whole });
}

function authentic(dtls: Dtls, rec: Buffer, epoch: number): boolean {
  try {
    dtls.cipher.cipher.decrypt(dtls.sessionType, rec.subarray(13), {
      type: rec[0]!,
      version: rec.readUInt16BE(1),
      epoch,
      sequenceNumber: rec.readUIntBE(5, 6),
    });
    return true;
  } catch {
    return false;
  }
}

/** After the handshake werift keeps every handshake message, the ECDHE keys and the flight
 * objects for the session's lifetime; none is used again once records are gated as above. */
function release(dtls: Dtls): void {
  quietWerift(dtls as unknown as Parameters<typeof quietWerift>[0]);
  dtls.dtls.handshakeCache = {};
  dtls.dtls.lastFlight = [];
  const c = dtls.cipher as unknown as Record<string, unknown>;
  c.localKeyPair = undefined;
  c.remoteKeyPair = undefined;
  c.remoteCertificate = undefined;
  // The record keys live in cipher.cipher; the secret and randoms they came from are not used again
  // (no SRTP keying material is exported), nor are the hello extensions and the SRTP context.
  c.masterSecret = undefined;
  c.localRandom = undefined;
  c.remoteRandom = undefined;
  const d = dtls as unknown as Record<string, unknown>;
  d.flight5 = undefined;
  d.flight6 = undefined;
  d.bufferFragmentedHandshakes = [];
  d.extensions = [];
  d.srtp = undefined;
}

/** Client side: werift never checks the ServerKeyExchange signature (RFC 5246 §7.4.3). */
function checkServerKeyExchange(dtls: Dtls, der: Buffer): string | undefined {
  try {
    const ske = findHandshake(dtls, HS_SERVER_KEY_EXCHANGE);
    if (!ske) return "no ServerKeyExchange";
    const f = ske.fragment;
    const params = 4 + f[3]!; // curve_type(1) named_curve(2) point_len(1) point
    const hash = f[params]!;
    const sigLen = f.readUInt16BE(params + 2);
    const sig = f.subarray(params + 4, params + 4 + sigLen);
    if (hash !== HashAlgorithm.sha256_4) return "unsupported ServerKeyExchange hash";
    const signed = Buffer.concat([dtls.cipher.localRandom.serialize(), dtls.cipher.remoteRandom.serialize(), f.subarray(0, params)]);
    const key = new X509Certificate(der).publicKey;
    return verify("sha256", signed, key, sig) ? undefined : "bad ServerKeyExchange signature";
  } catch (e) {
    return `ServerKeyExchange: ${(e as Error).message}`;
  }
}

/** Server side: werift never checks the client's CertificateVerify (RFC 5246 §7.4.8). */
function checkCertificateVerify(dtls: Dtls, der: Buffer): string | undefined {
  try {
    const all = dtls.dtls.sortedHandshakeCache;
    const cv = all.find((m) => m.msg_type === HS_CERTIFICATE_VERIFY);
    if (!cv) return "no CertificateVerify";
    const transcript = Buffer.concat(
      all.filter((m) => m.msg_type !== HS_CERTIFICATE_VERIFY && m.msg_type !== HS_FINISHED).map((m) => m.serialize()),
    );
    const f = cv.fragment;
    const hash = f[0]!;
    const sigLen = f.readUInt16BE(2);
    if (hash !== HashAlgorithm.sha256_4) return "unsupported CertificateVerify hash";
    const key = new X509Certificate(der).publicKey;
    return verify("sha256", transcript, key, f.subarray(4, 4 + sigLen)) ? undefined : "bad CertificateVerify signature";
  } catch (e) {
    return `CertificateVerify: ${(e as Error).message}`;
  }
}

function findHandshake(dtls: Dtls, type: number) {
  return dtls.dtls.sortedHandshakeCache.find((m) => m.msg_type === type);
}

/** DTLS server (relay role, a=setup:passive), SCTP port 5000, negotiated channel id 0. Accepts any client certificate but exposes its fingerprint (after checking the client holds its key). */
export function createServerSession(cert: Certificate, handlers: SessionHandlers, opts?: SessionLimits): ChannelSession {
  return createSession({ server: true, cert, ...limitsOf(opts) }, handlers);
}

function limitsOf(o: SessionLimits = {}) {
  const maxMessageSize = o.maxMessageSize ?? DEFAULT_MAX_MESSAGE_SIZE,
    maxQueued = o.maxQueued ?? DEFAULT_MAX_QUEUED,
    maxRetransmits = o.maxRetransmits ?? MAX_RTX;
  for (const [k, v] of Object.entries({ maxMessageSize, maxQueued, maxRetransmits }))
    if (!Number.isInteger(v) || v <= 0) throw new RangeError(`werift: bad ${k} ${v}`);
  return { maxMessageSize, maxQueued, maxRetransmits };
}

/** DTLS client that checks the server certificate's sha-256 against remoteFingerprint; SCTP client; channel id 0. */
export function createClientSession(
  cert: Certificate,
  remoteFingerprint: string,
  handlers: SessionHandlers,
  opts?: SessionLimits,
): ChannelSession {
  const expectFp = normFp(remoteFingerprint);
  if (!FP_RE.test(expectFp)) throw new TypeError(`werift: bad sha-256 fingerprint "${remoteFingerprint}"`);
  return createSession({ server: false, cert, expectFp, ...limitsOf(opts) }, handlers);
}

/**
 * The one way a decrypted SCTP packet reaches werift: its shape is checked first (relay/sctp-check.ts).
 * SCTP.handleData is async and rejects on malformed packets (werift's own wiring drops the promise:
 * an unhandled rejection), so it is called directly with a catch.
 */
function sctpInput(s: Sctp, buf: Buffer, drop: (reason: string) => void): Promise<void> {
  const why = checkSctpPacket(buf);
  if (why) {
    drop("sctp." + why);
    return DONE;
  }
  return (s as unknown as SctpPrivate).handleData(buf).catch(noop);
}

/**
 * An established SCTP association with no DTLS under it, fed through the same input path as a
 * session: for fuzzing werift's parser behind the shape check (test/relay/sctp-fuzz.test.ts, bench/fuzz.ts).
 * Packets must carry `tag` as their verification tag; the association's cumulative TSN is `tsn`.
 */
function sctpHarness(o: { maxMessage?: number } = {}) {
  patchWerift();
  const s = new (sctpClass())({ send: () => DONE, close: noop }, SCTP_PORT);
  lightenEvents(s, ["flush", "onReconfigStreams", "onReceive"]);
  const sp = s as unknown as SctpPrivate & {
    localVerificationTag: number;
    remoteVerificationTag: number;
    lastReceivedTsn: number;
    isServer: boolean;
  };
  const drops: Record<string, number> = {};
  const received: Uint8Array[] = [];
  let violation: string | undefined;
  sp.isServer = true;
  sp.localVerificationTag = 0x11223344;
  sp.remoteVerificationTag = 0x55667788;
  sp.lastReceivedTsn = 1000;
  sp.advertisedRwnd = RECEIVE_WINDOW;
  const drop = (r: string) => void (drops[r] = (drops[r] ?? 0) + 1);
  sp.lm = { maxMessage: o.maxMessage ?? DEFAULT_MAX_MESSAGE_SIZE, drop, violation: (r) => void (violation = r) };
  s.onReceive.subscribe((_id: number, _ppid: number, data: Buffer) => void received.push(u8(data)));
  s.setState(4 /* ESTABLISHED */);
  return {
    tag: sp.localVerificationTag,
    get tsn() {
      return sp.lastReceivedTsn;
    },
    get window() {
      return sp.advertisedRwnd;
    },
    drops,
    received,
    get violation() {
      return violation;
    },
    feed: (p: Uint8Array) => sctpInput(s, Buffer.from(p.buffer, p.byteOffset, p.byteLength), drop),
    close: () => s.setState(1 /* CLOSED */),
  };
}

/** Tests: send raw bytes (a hand-made SCTP packet) as DTLS application data on an open session. */
const rawSenders = new WeakMap<ChannelSession, (b: Uint8Array) => void>();
/** Tests: a session's SCTP association (werift's object: verification tags, TSNs). */
const associations = new WeakMap<ChannelSession, () => unknown>();
const association = (session: ChannelSession) => associations.get(session)?.() as Record<string, unknown> | undefined;
function sendRawSctp(session: ChannelSession, packet: Uint8Array) {
  const f = rawSenders.get(session);
  if (!f) throw new TypeError("werift: not a session of this adapter");
  f(packet);
}

/** Internals for tests. */
/** Internals for tests. */
export const _internal = /* @__PURE__ */ Object.freeze({ filterRecords, sctpHarness, sendRawSctp, association });
