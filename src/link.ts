// Layer 1: a DataChannel from this browser to one relay with no signaling server.
// The browser knows the relay's ip:port and certificate fingerprint, so it writes the relay's
// answer itself (the technique of libp2p's WebRTC Direct; docs/protocol.md §1).
// The page's own offer is never edited (browsers are removing SDP munging): the answer carries
// a=ice-lite, a=setup:passive, the relay's fingerprint, one host candidate and ufrag == pwd == R,
// fresh and random. The browser's checks then say USERNAME "R:<its own ufrag>", integrity keyed
// by R, and the relay reads its key from the first half: no state is shared.
import { E, T, VERSION, decode, encode, type Frame } from "../protocol/frames.ts";
import { FP_RE, parseAddr, randomUfrag } from "../protocol/addr.ts";
import type { RelayInfo } from "../protocol/bootstrap.ts";

export type { RelayInfo } from "../protocol/bootstrap.ts";

/** Why a relay could not be used. */
export type FailReason = "bad-relay" | "ice-timeout" | "ice-failed" | "dtls-fingerprint" | "version" | "protocol" | "closed" | "timeout";

/** What a relay's WELCOME may announce: anything outside is a relay breaking the protocol (a
 *  hostile relay could otherwise make sends crawl or never finish). */
export const WELCOME_FLOOR = { maxFrame: 1024, rate: 1024, msgRate: 10 } as const;
/** Frames that do not decode or do not belong (after WELCOME) before the link is dropped. */
const MAX_BAD_FRAMES = 16;

export class LinkError extends Error {
  // Declared, not class fields: set once in the constructor (a field would be emitted as well).
  declare readonly relay: string;
  declare readonly reason: FailReason;
  constructor(relay: string, reason: FailReason, detail: string) {
    super(`${relay}: ${detail}`);
    this.relay = relay;
    this.reason = reason;
  }
}

export interface Link {
  relay: RelayInfo;
  /** Bytes the relay allows in one frame. */
  maxFrame: number;
  /** Relayed payload bytes, and frames, per second the relay allows this session (WELCOME). */
  rate: number;
  msgRate: number;
  /** Resolves when one more frame of n relayed bytes fits under both rates (paced at 1/1.1 of them, 1 s burst). */
  pace(n: number): Promise<unknown>;
  /** The relays this relay vouches for (RECORDS JSON, sent before WELCOME). */
  records?: string;
  /** ms from the start of the handshake to WELCOME: this relay's distance, for choosing the nearest. */
  rtt: number;
  send(f: Frame): void;
  onframe: (f: Frame) => void;
  onclose: (why: string) => void;
  close(): void;
  pc: RTCPeerConnection;
}

export interface LinkOptions {
  /** The RTCPeerConnection to use (default the browser's): a bot or script in Bun or Node passes one
   *  (node-datachannel's, through the adapter examples/node-peer.ts in the repository; docs/node.md). */
  RTCPeerConnection?: typeof RTCPeerConnection;
  /** Give up on a relay after this many ms (default 10000). */
  timeout?: number;
  /** Use this certificate (the first) for the relay link and every direct connection: the peer id is
   *  the first 8 bytes of its SHA-256 fingerprint. Default: a new one, or the kept one (`identity`). */
  certificates?: RTCCertificate[];
}

/** Liveness (see the WELCOME handler below): PING after this much silence from the relay (or at
 *  once when ICE says the path went quiet), and give the relay up when a PING goes unanswered for
 *  PING_ANSWER_MS. 120 s: a backstop only. A dead relay stops answering ICE consent checks and a
 *  restarted one refuses the old path's checks (relay/core.ts, drop.stun.no-session), so ICE reports
 *  both within seconds; the PING after silence catches a relay that answers checks but not frames.
 *  An idle link costs the relay 2 frames per 120 s (0.017/s; at 30 s the PINGs were a quarter of
 *  an idle relay's CPU, issue 17). */
export const PING_AFTER_MS = 120_000,
  PING_ANSWER_MS = 1000;

/** The relay's SDP answer, synthesized from what the bootstrap config says about it; `r` is its ice-ufrag and ice-pwd. */
export function relayAnswer(ip: string, port: number, v6: boolean, fp: string, r: string, mid: string, maxMessageSize: number): string {
  const v = v6 ? 6 : 4;
  return [
    "v=0",
    `o=- 0 0 IN IP${v} ${ip}`,
    "s=-",
    "t=0 0",
    `a=group:BUNDLE ${mid}`,
    "a=ice-lite",
    `m=application ${port} UDP/DTLS/SCTP webrtc-datachannel`,
    `c=IN IP${v} ${ip}`,
    `a=mid:${mid}`,
    `a=ice-ufrag:${r}`,
    `a=ice-pwd:${r}`,
    `a=fingerprint:sha-256 ${fp}`,
    "a=setup:passive",
    "a=sctp-port:5000",
    `a=max-message-size:${maxMessageSize}`,
    `a=candidate:1 1 UDP 2130706431 ${ip} ${port} typ host`,
    "a=end-of-candidates",
    "",
  ].join("\r\n");
}

/** The page's monotonic clock (ms). */
export const now = () => performance.now();

/** Close a connection and its channel without hearing of it: their handlers go first. */
export const hangUp = (pc: RTCPeerConnection, dc: RTCDataChannel) => {
  dc.onmessage = dc.onclose = pc.onconnectionstatechange = pc.oniceconnectionstatechange = null;
  try {
    dc.close();
    pc.close();
  } catch {}
};

/** Open a link to one relay: resolves once the relay said WELCOME, rejects with a LinkError. */
export function openLink(relay: RelayInfo, o: LinkOptions = {}): Promise<Link> {
  const a = parseAddr(relay.addr);
  const fp = relay.fp?.toUpperCase?.();
  if (!a || !FP_RE.test(fp)) return Promise.reject(new LinkError(relay.addr, "bad-relay", "not an ip:port and SHA-256 fingerprint"));
  const PC = o.RTCPeerConnection ?? globalThis.RTCPeerConnection;
  const pc = new PC({ certificates: o.certificates });
  const dc = pc.createDataChannel("", { negotiated: true, id: 0 });
  dc.binaryType = "arraybuffer";
  let done = false,
    timer: ReturnType<typeof setTimeout>,
    rx = 0,
    due = 0,
    bad = 0;
  const t0 = now();
  const iceUp = () => /^(connected|completed)$/.test(pc.iceConnectionState),
    broken = () => /^(failed|closed)$/.test(pc.connectionState);
  const link: Link = {
    relay,
    pc,
    maxFrame: 0,
    rate: 0,
    msgRate: 0,
    rtt: 0,
    pace: (n) => {
      const t = now();
      due = Math.max(due, t - 1000) + Math.max(n / link.rate, 1 / link.msgRate) * 1100;
      return new Promise((r) => setTimeout(r, due - t));
    },
    send: (f) => dc.readyState === "open" && dc.send(encode(f) as Uint8Array<ArrayBuffer>),
    onframe: () => {},
    onclose: () => {},
    close: () => finish("closed locally"),
  };
  // One place where the link ends, however it ends.
  const finish = (why: string) => {
    if (done) return;
    done = true;
    clearTimeout(timer);
    hangUp(pc, dc);
    link.onclose(why);
  };
  return new Promise<Link>((resolve, reject) => {
    const fail = (reason: FailReason, detail: string) => {
      if (done) return;
      reject(new LinkError(relay.addr, reason, detail));
      finish(detail);
    };
    const ms = o.timeout ?? 10000;
    timer = setTimeout(
      () =>
        iceUp()
          ? fail("timeout", `no WELCOME within ${ms} ms`)
          : fail("ice-timeout", `ICE timeout after ${ms} ms (is UDP ${a.port} reachable?)`),
      ms,
    );
    // The connection state is ICE's and DTLS's together. Failed while ICE is still connected:
    // DTLS ran over that path and failed, i.e. refused the relay's certificate. The DTLS
    // transport's own "failed" is no evidence: Firefox fails it along with ICE when no
    // candidate pair ever worked (a loopback relay, which Firefox has no candidates for).
    pc.onconnectionstatechange = () =>
      broken() &&
      (iceUp()
        ? fail("dtls-fingerprint", "DTLS failed: certificate does not match the fingerprint")
        : fail("ice-failed", `ICE failed (is UDP ${a.port} reachable?)`));
    dc.onopen = () => link.send({ t: T.HELLO, min: VERSION, max: VERSION });
    dc.onclose = () => fail("closed", "channel closed");
    dc.onmessage = (e) => {
      const f = decode(new Uint8Array(e.data as ArrayBuffer));
      // A relay that keeps sending what is not the protocol is dropped (rooms move to the next relay).
      if (!f || (link.maxFrame && (f.t === T.WELCOME || f.t < T.WELCOME)))
        return ++bad > MAX_BAD_FRAMES && finish("relay broke the protocol");
      rx = now();
      if (link.maxFrame) return link.onframe(f);
      if (f.t === T.WELCOME) {
        // Taken as they are checked: a link that fails here is finished (no frame reaches it after).
        for (const k of ["maxFrame", "rate", "msgRate"] as const)
          if ((link[k] = f[k]) < WELCOME_FLOOR[k]) return fail("protocol", `relay announced ${k} ${f[k]}, below ${WELCOME_FLOOR[k]}`);
        link.rtt = rx - t0;
        clearTimeout(timer);
        dc.onclose = () => finish("relay closed the channel");
        pc.onconnectionstatechange = () => broken() && finish("connection " + pc.connectionState);
        // Liveness. ICE notices a relay that died (no answers to consent checks) or restarted (it
        // refuses the old path's checks); a relay that answers checks but not frames is noticed only
        // by an unanswered PING. An idle link pings after PING_AFTER_MS
        // of silence (the relay's cost per idle page is what the browser sends it: issue 17), and
        // at once when ICE reports the path quiet ("disconnected": the relay stopped answering its
        // consent checks, i.e. it is gone). A room lives on two relays, so the death of one is
        // noticed late without anyone missing anyone: newcomers meet the room on the other. Only an
        // unanswered PING counts, so throttled timers in background tabs cause no false alarms.
        let sent = 0;
        const beat = () => {
          if (done) return;
          const t = now();
          if (sent > rx) {
            if (t - sent > PING_ANSWER_MS) return finish("relay stopped answering");
          } else if (t - rx > (pc.iceConnectionState === "disconnected" ? PING_ANSWER_MS : PING_AFTER_MS))
            (sent = t), link.send({ t: T.PING, data: new Uint8Array(0) });
          timer = setTimeout(beat, 500);
        };
        timer = setTimeout(beat, 500);
        resolve(link);
      } else if (f.t === T.RECORDS) link.records = f.json;
      else if (f.t === T.ERROR) fail(f.code === E.VERSION ? "version" : "closed", `relay refused: ${f.message} (${f.code})`);
    };
    (async () => {
      // The offer goes in exactly as the browser wrote it; only the answer is ours.
      const offer = await pc.createOffer();
      await pc.setLocalDescription(offer);
      const mid = /^a=mid:(.*)$/m.exec(offer.sdp!)?.[1]?.trim() ?? "0";
      await pc.setRemoteDescription({ type: "answer", sdp: relayAnswer(a.ip, a.port, a.v6, fp, randomUfrag(), mid, 65536) });
    })().catch((e) => fail("closed", "WebRTC refused: " + (e?.message ?? e)));
  });
}
