// Where relay CPU goes: a `bun --cpu-prof` profile (.cpuprofile, JSC's sampling profiler) summed by
// sample COUNT, never by the profile's per-sample durations (JSC stamps a sample after an idle gap with
// the whole gap). Each sample goes to the first category (from the leaf up) one of its frames falls
// in, so "UDP send" is the send syscall path wherever it was called from, and "werift DTLS" is JS
// time in werift's DTLS code not already counted as crypto or I/O. Only samples inside the given
// windows (wall-clock ms, as Date.now()) count: the measured phase, not start-up or warm-up.
import { readFileSync } from "node:fs";

interface Frame {
  functionName: string;
  url: string;
  lineNumber: number;
}
interface Node {
  id: number;
  callFrame: Frame;
  children?: number[];
}
interface Profile {
  nodes: Node[];
  startTime: number;
  samples: number[];
  timeDeltas: number[];
}

/** Native code (JSC reports it with an empty url). */
const native = (f: Frame) => f.url === "" || f.url === "[native code]";
/** Categories, tested leaf-first against each frame of a sample's stack. */
const RULES: [string, (f: Frame) => boolean][] = [
  [
    "UDP send (syscall path)",
    (f) => /^(send|sendMany|doSend|handleSend|afterDns)$/.test(f.functionName) && (native(f) || f.url.startsWith("node:dgram")),
  ],
  [
    "handshake crypto (native: ECDSA, X25519, X.509, HMAC/PRF)",
    (f) =>
      native(f) &&
      /^(sign|verify|diffieHellman|generateKeyPairSync|createPrivateKey|createPublicKey|export|X509Certificate|Hmac|Hash|digest|update|Sign|Verify|timingSafeEqual|randomBytes|getRandomValues)$/.test(
        f.functionName,
      ),
  ],
  [
    "record crypto (AES-GCM)",
    (f) =>
      native(f) &&
      /^(Cipheriv|Decipheriv|Cipher|Decipher|final|setAAD|setAuthTag|getAuthTag|createCipheriv|createDecipheriv)$/.test(f.functionName),
  ],
  ["STUN (relay/stun.ts)", (f) => f.url.endsWith("relay/stun.ts")],
  [
    "SCTP (werift association + relay/sctp-*.ts)",
    (f) =>
      /relay\/sctp-(check|harden)\.ts$/.test(f.url) ||
      (/sctpInput|handleData|receiveChunk|sendChunk|sendSack|transmit$|Chunk|flushOutbound|setConnectionState|SCTP|^Sctp/.test(
        f.functionName,
      ) &&
        f.url.includes("werift")),
  ],
  [
    "DTLS (handshake, record layer, session: werift before issue 17, relay/dtls-server.ts after)",
    (f) => f.url.includes("werift") || /relay\/(werift|dtls-records|dtls|session|cert)[\w-]*\.ts$/.test(f.url),
  ],
  ["relay core, router, cookies, limits", (f) => /relay\/(core|router|cookie|limits)\.ts$/.test(f.url)],
  ["logging", (f) => f.url.endsWith("relay/log.ts")],
  ["UDP receive and dispatch", (f) => f.url.startsWith("node:dgram") || f.url.endsWith("relay/socket.ts")],
];

export interface ProfileSummary {
  samples: number;
  categories: [string, number][];
  top: [string, number][];
}

/** Samples inside any of `windows` ([from, to] wall-clock ms pairs; none: all) count. */
export function summarize(file: string, windows: [number, number][] = []): ProfileSummary {
  const p = JSON.parse(readFileSync(file, "utf8")) as Profile;
  const byId = new Map<number, Node>();
  const parent = new Map<number, number>();
  for (const n of p.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const cats = new Map<string, number>(),
    self = new Map<string, number>();
  let t = p.startTime / 1000,
    total = 0;
  for (let i = 0; i < p.samples.length; i++) {
    t += p.timeDeltas[i]! / 1000;
    if (windows.length && !windows.some(([a, b]) => t >= a && t <= b)) continue;
    const leaf = byId.get(p.samples[i]!);
    if (!leaf || /^\(?(idle|program|garbage collector|root)\)?$/.test(leaf.callFrame.functionName)) continue;
    total++;
    const f = leaf.callFrame;
    const name = `${f.functionName || "(anonymous)"} ${f.url.replace(/^.*\/(node_modules\/)?/, "")}${native(f) ? "(native)" : ":" + f.lineNumber}`;
    self.set(name, (self.get(name) ?? 0) + 1);
    let cat = "other";
    for (let id: number | undefined = leaf.id; id !== undefined && cat === "other"; id = parent.get(id)) {
      const fr = byId.get(id)!.callFrame;
      for (const [c, test] of RULES)
        if (test(fr)) {
          cat = c;
          break;
        }
    }
    cats.set(cat, (cats.get(cat) ?? 0) + 1);
  }
  const sort = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]);
  return { samples: total, categories: sort(cats), top: sort(self).slice(0, 12) };
}

/** One line per category: "name 23% (123)". */
export function formatSummary(s: ProfileSummary, topN = 8): string {
  const pc = (n: number) => `${((100 * n) / Math.max(1, s.samples)).toFixed(0)}%`;
  return [
    `${s.samples} samples (1 ms each while the relay ran JS or native code under it)`,
    ...s.categories.map(([c, n]) => `  ${c}: ${pc(n)}`),
    "  top self: " +
      s.top
        .slice(0, topN)
        .map(([f, n]) => `${f} ${pc(n)}`)
        .join(", "),
  ].join("\n");
}

if (import.meta.main) {
  const [file, from, to] = process.argv.slice(2);
  if (!file) throw new Error("usage: bun bench/profile.ts FILE.cpuprofile [fromMs toMs]");
  console.log(formatSummary(summarize(file, from ? [[Number(from), Number(to ?? Infinity)]] : []), 15));
}
