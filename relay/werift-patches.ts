// werift, patched where the relay needs it to differ: applied by one explicit call,
// patchWerift(), never on import (relay/session.ts calls it before its first session; tests and
// tools may call it first). Idempotent.
//  - X25519 through node:crypto. werift does its ECDHE with tweetnacl's pure-JS X25519
//    (dtls/src/cipher/namedCurve.js, prf.js), which browsers pick first: ~5.4 ms of the relay's
//    ~7 ms CPU per handshake. The same two functions on the native implementation cost ~0.1 ms.
//    tweetnacl is pinned beside werift (package.json) and used by nothing else in the relay. A key
//    pair made here keeps its private key object for the exchange (no PKCS#8 round trip).
//  - SCTP: werift exports only RTCSctpTransport, not its association class; the class is taken once
//    from a throw-away RTCSctpTransport, and its prototype gets the bounded receive path
//    (relay/sctp-harden.ts) and an RTO.Min of 200 ms.
import { createPrivateKey, createPublicKey, diffieHellman, generateKeyPairSync, type KeyObject } from "node:crypto";
import { NamedCurveAlgorithmList, RTCSctpTransport } from "werift";
import nacl from "tweetnacl";
import { hardenSctp } from "./sctp-harden.ts";

const X25519_PKCS8 = /* @__PURE__ */ Buffer.from("302e020100300506032b656e04220420", "hex");
const X25519_SPKI = /* @__PURE__ */ Buffer.from("302a300506032b656e032100", "hex");
/** The key object of each secret x25519KeyPair made, by the secret's own ArrayBuffer (werift wraps the
 *  secret in a Buffer over that same memory): the exchange does not parse it back from PKCS#8. */
const privateKeys = new WeakMap<ArrayBufferLike, { bytes: Uint8Array; key: KeyObject }>();
export function x25519KeyPair(): { publicKey: Uint8Array; secretKey: Uint8Array } {
  const k = generateKeyPairSync("x25519");
  const spki = k.publicKey.export({ type: "spki", format: "der" });
  const pkcs8 = k.privateKey.export({ type: "pkcs8", format: "der" });
  const secretKey = new Uint8Array(pkcs8.subarray(pkcs8.length - 32));
  privateKeys.set(secretKey.buffer, { bytes: secretKey.slice(), key: k.privateKey });
  return { publicKey: new Uint8Array(spki.subarray(spki.length - 32)), secretKey };
}
export function x25519(secret: Uint8Array, pub: Uint8Array): Uint8Array {
  const known = secret.byteOffset === 0 && secret.byteLength === 32 ? privateKeys.get(secret.buffer) : undefined;
  const privateKey =
    known && Buffer.from(known.bytes).equals(secret)
      ? known.key
      : createPrivateKey({ key: Buffer.concat([X25519_PKCS8, secret]), format: "der", type: "pkcs8" });
  const publicKey = createPublicKey({ key: Buffer.concat([X25519_SPKI, pub]), format: "der", type: "spki" });
  return new Uint8Array(diffieHellman({ privateKey, publicKey }));
}

let patched = false;
/** Install every patch below on werift (once). */
export function patchWerift(): void {
  if (patched) return;
  patched = true;
  (nacl.box as { keyPair: () => { publicKey: Uint8Array; secretKey: Uint8Array } }).keyPair = x25519KeyPair;
  (nacl as { scalarMult: (n: Uint8Array, p: Uint8Array) => Uint8Array }).scalarMult = x25519;
  sctpClass();
}

/** Tests: make werift's DtlsClient offer these named curves (its module-level list, changed in place);
 *  the list it had is returned, to be put back. */
export function weriftClientCurves(curves: number[]): number[] {
  const list = NamedCurveAlgorithmList as number[];
  const old = [...list];
  list.splice(0, list.length, ...curves);
  return old;
}

export type Sctp = RTCSctpTransport["sctp"];
export type SctpCtor = new (transport: SctpLower, port?: number, options?: object) => Sctp;
export interface SctpLower {
  send(data: Buffer): Promise<void>;
  onData?: (buf: Buffer) => void;
  close(): void;
}

let sctpCtor: SctpCtor | undefined;
/** werift does not export its SCTP association class; take it from one throw-away RTCSctpTransport. */
export function sctpClass(): SctpCtor {
  if (!sctpCtor) {
    const t = new RTCSctpTransport();
    const fakeDtls = {
      id: "x",
      onStateChange: { subscribe: () => ({ unSubscribe() {} }) },
      iceTransport: { role: "controlled" },
      sendData: async () => {},
    };
    t.setDtlsTransport(fakeDtls as unknown as RTCSctpTransport["dtlsTransport"]);
    sctpCtor = t.sctp.constructor as SctpCtor;
    t.sctp.setState(1 /* SCTP_STATE.CLOSED */); // no timers were started; mark closed anyway
    // Bounded receive path (window, reassembly, message size): relay/sctp-harden.ts.
    hardenSctp((sctpCtor as unknown as { prototype: object }).prototype);
    // werift keeps RFC 9260's RTO.Min of 1 s (sctp/src/sctp.js: SCTP_RTO_MIN). WebRTC stacks retransmit
    // much sooner: a lost DATA chunk (a JOINED, a PONG) would otherwise sit a full second, long enough for
    // a browser to declare a live relay dead. RTO.Min 200 ms, same RFC 6298 estimator.
    const proto = (sctpCtor as unknown as { prototype: { updateRto(this: SctpRto, r: number): void } }).prototype;
    proto.updateRto = function (this: SctpRto, R: number) {
      if (!this.srtt) (this.rttvar = R / 2), (this.srtt = R);
      else (this.rttvar = 0.75 * this.rttvar + 0.25 * Math.abs(this.srtt - R)), (this.srtt = 0.875 * this.srtt + 0.125 * R);
      this.rto = Math.max(RTO_MIN, Math.min(this.srtt + 4 * this.rttvar, 60));
    };
  }
  return sctpCtor;
}
export interface SctpRto {
  srtt?: number;
  rttvar: number;
  rto: number;
}
export const RTO_MIN = 0.2,
  RTO_INITIAL = 0.5;
/** The most a retransmission timeout grows to by backing off (seconds): 8 expiries from RTO.Min take ~30 s. */
export const RTO_BACKOFF_MAX = 10;

type Handler = (...args: any[]) => unknown;
interface Sub {
  execute: Handler;
  complete?: Handler;
  error?: Handler;
}
/**
 * werift's Event (common/src/event.ts) builds about ten closures per instance and runs an async
 * function on every execute(), whether anything awaits it or not; a session has eleven of them
 * (DTLS four, SCTP seven), most of them never subscribed. This one does what the relay's sessions
 * use — subscribe, once, execute, asPromise (SCTP's send waits on `flush` that way), complete,
 * error, allUnsubscribe — with its methods on the prototype, no list until a subscription, and
 * subscribers called synchronously, in order, as werift's are. queuingSubscribe/watch are not
 * offered: nothing in the paths the adapter uses calls them (a call would throw, loudly).
 */
export class LiteEvent {
  private subs: Sub[] | undefined = undefined;
  private ended = false;
  execute(...args: unknown[]) {
    const s = this.subs;
    if (this.ended || !s) return;
    for (const x of s.length === 1 ? s : s.slice()) x.execute(...args);
  }
  subscribe(execute: Handler, complete?: Handler, error?: Handler) {
    const sub: Sub = { execute, complete, error };
    (this.subs ??= []).push(sub);
    const unSubscribe = () => {
      if (this.subs) this.subs = this.subs.filter((x) => x !== sub);
    };
    return { unSubscribe, disposer: (d: Handler[]) => void d.push(unSubscribe) };
  }
  once(execute: Handler, complete?: Handler, error?: Handler) {
    const off = this.subscribe((...args: unknown[]) => (off.unSubscribe(), execute(...args)), complete, error);
  }
  asPromise(timeLimit?: number): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const t = timeLimit ? setTimeout(() => reject("Event asPromise timeout"), timeLimit) : undefined;
      this.once(
        (...args: unknown[]) => (clearTimeout(t), resolve(args)),
        () => (clearTimeout(t), resolve([])),
        (e) => (clearTimeout(t), reject(e)),
      );
    });
  }
  complete() {
    if (this.ended) return;
    for (const x of this.subs ?? []) x.complete?.();
    this.subs = undefined;
    this.ended = true;
  }
  error(e: unknown) {
    if (this.ended) return;
    for (const x of this.subs ?? []) x.error?.(e);
    this.subs = undefined;
  }
  allUnsubscribe() {
    if (!this.ended) this.subs = undefined;
  }
  get length() {
    return this.subs?.length ?? 0;
  }
}

/** Replaces werift Event instances on `o` (by property name, and every one inside `o.stateChanged`)
 *  with LiteEvents, before anything subscribed to them. */
export function lightenEvents(o: object, names: string[]): void {
  const r = o as Record<string, unknown>;
  for (const n of names) r[n] = new LiteEvent();
  const sc = r.stateChanged as Record<string, unknown> | undefined;
  if (sc) for (const k of Object.keys(sc)) sc[k] = new LiteEvent();
}

let quiet = false;
/**
 * werift computes the arguments of its debug logging whether logging is on or not: the session id
 * (a hex string of the cookie) for almost every call, and on every handshake a hex dump of the
 * cipher's keys ("setup cipher", cipher.summary) and of any handshake message seen twice. Their
 * getters return nothing here. The classes are reached through a session that completed its
 * handshake (werift exports none of them), so the first session calls this.
 */
export function quietWerift(dtls: { dtls: object; cipher: { cipher?: object } }): void {
  if (quiet || !dtls.cipher.cipher) return;
  quiet = true;
  const empty = { get: () => "", configurable: true };
  for (const o of [dtls.dtls, dtls.cipher.cipher]) {
    const proto = Object.getPrototypeOf(o);
    for (const name of ["sessionId", "summary"])
      if (Object.getOwnPropertyDescriptor(proto, name)?.get) Object.defineProperty(proto, name, empty);
  }
}
