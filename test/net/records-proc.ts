// Test helper process: what a page would read from each relay, from inside a test namespace (the
// test process itself has no address on the test network). Opens a Layer-1 link to every relay
// given (as relay/client.ts does, with a certificate no relay knows, like a page's), keeps it
// RECORDS_MORE_MS and a little longer, and prints one JSON line: relay addr → the records it sent
// (before WELCOME and after), or the error.
//   bun test/net/records-proc.ts '[{"addr":"10.77.0.3:4884","fp":"AB:…"}, …]'
import { openRelayLink } from "../../relay/client.ts";
import { generateCertificate } from "../../relay/werift.ts";
import { RECORDS_MORE_MS } from "../../relay/core.ts";
import { T } from "../../protocol/frames.ts";

const relays: { addr: string; fp: string }[] = JSON.parse(process.argv[2] ?? "[]");
const cert = await generateCertificate();
const out: Record<string, { records?: { id: string; addr: string; fp: string }[]; error?: string }> = {};
await Promise.all(
  relays.map(async (r) => {
    try {
      const l = await openRelayLink(r, cert, { timeout: 4000 });
      const got: unknown[] = l.records ? JSON.parse(l.records) : [];
      l.onframe = (f) => void (f.t === T.RECORDS && got.push(...JSON.parse(f.json)));
      await Bun.sleep(RECORDS_MORE_MS + 800);
      l.close();
      const seen = new Map<string, { id: string; addr: string; fp: string }>();
      for (const x of got as { id: string; addr: string; fp: string }[]) seen.set(x.id, { id: x.id, addr: x.addr, fp: x.fp });
      out[r.addr] = { records: [...seen.values()] };
    } catch (e) {
      out[r.addr] = { error: String((e as Error).message ?? e) };
    }
  }),
);
console.log(JSON.stringify(out));
await Bun.sleep(50);
process.exit(0);
