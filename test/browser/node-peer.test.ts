// A Bun process as a peer (docs/node.md): examples/bot.ts, run as its own process with
// node-datachannel's RTCPeerConnection (examples/node-peer.ts), and a headless Chromium page meet in
// one room through a real relay process, directly, and exchange messages both ways. Two bots, so
// both roles are covered whatever ids come up: one whose id is smaller than the page's (the bot
// offers) and one whose id is larger (the page offers). Each bot's id is the fingerprint prefix of
// the certificate it keeps (--identity), which the relay checks on JOIN and the page on the direct
// connection; the page's is one it made and passed as options.certificates.
import { describe, test, expect, beforeAll, afterAll } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import type { Subprocess } from "bun";
import { launchChromium, serveLibrary } from "../helpers/browser.ts";
import { startRelayProc, type RelayProc } from "../helpers/relay.ts";
import { poll } from "../helpers/poll.ts";
import { generateCertificate } from "../../examples/node-peer.ts";
import { fpId } from "../../protocol/addr.ts";
import { hex } from "../../protocol/bytes.ts";

const ROOT = join(import.meta.dir, "../..");
let browser: Browser;
let server: Awaited<ReturnType<typeof serveLibrary>>;
let relay: RelayProc;
const bots: { proc: Subprocess<"ignore", "pipe", "pipe">; out: string[] }[] = [];
beforeAll(async () => {
  browser = await launchChromium();
  server = await serveLibrary();
  relay = await startRelayProc();
});
afterAll(async () => {
  for (const b of bots) b.proc.kill("SIGKILL");
  await browser?.close();
  server?.stop();
  await relay?.stop();
});

/** examples/bot.ts as its own process, as docs/node.md runs it; its stdout lines collected. */
function startBot(args: string[]) {
  const proc = Bun.spawn([process.execPath, join(ROOT, "examples/bot.ts"), "--relay", `${relay.record.addr},${relay.record.fp}`, ...args], {
    stdin: "ignore",
    stdout: "pipe",
    stderr: "pipe",
  });
  const bot = { proc, out: [] as string[], err: "" };
  (async () => {
    let buf = "";
    for await (const c of proc.stdout) {
      buf += new TextDecoder().decode(c);
      for (let i; (i = buf.indexOf("\n")) >= 0; buf = buf.slice(i + 1)) bot.out.push(buf.slice(0, i));
    }
  })();
  (async () => {
    for await (const c of proc.stderr) bot.err += new TextDecoder().decode(c);
  })();
  bots.push(bot);
  return bot;
}

describe("a Bun process as a peer", () => {
  test("two bots and a Chromium page meet directly through a real relay and exchange messages", async () => {
    const page: Page = await browser.newPage();
    await page.goto(server.url);
    const pageId = await page.evaluate(async (rec) => {
      const g = globalThis as any;
      const { connect } = await import("/lumamesh.js");
      // An id in the middle of the range (first hex digit 4…b), so ids below and above it are common.
      let cert: RTCCertificate;
      do cert = await RTCPeerConnection.generateCertificate({ name: "ECDSA", namedCurve: "P-256" } as EcKeyGenParams);
      while (!/^[4-9ab]/i.test(cert.getFingerprints()[0]!.value!));
      g.net = await connect({ relays: [rec], certificates: [cert] });
      g.log = { msgs: [] as [string, string, unknown][], leaves: [] as string[], errors: [] as unknown[] };
      g.room = await g.net.joinRoom("bots", { nick: "alice" });
      g.room.on("message", (d: unknown, p: any) => g.log.msgs.push([p.id, p.nick, d]));
      g.room.on("leave", (p: any) => g.log.leaves.push(p.id));
      g.room.on("error", (e: unknown) => g.log.errors.push(e));
      return g.net.id as string;
    }, relay.record);

    expect(pageId).toMatch(/^[4-9a-b]/); // the page's id is its certificate's (options.certificates)
    // Certificates for the bots (their --identity folders): one id below the page's, one above.
    const dirs: Record<"low" | "high", { dir: string; id: string } | undefined> = { low: undefined, high: undefined };
    for (let i = 0; i < 64 && !(dirs.low && dirs.high); i++) {
      const dir = mkdtempSync(join(tmpdir(), "lumamesh-bot-"));
      const id = hex(fpId(generateCertificate(dir).fingerprint));
      dirs[id < pageId ? "low" : "high"] ??= { dir, id };
    }
    const low = dirs.low!,
      high = dirs.high!;
    const a = startBot(["--room", "bots", "--nick", "bot-low", "--identity", low.dir]);
    const b = startBot(["--room", "bots", "--nick", "bot-high", "--identity", high.dir]);
    const why = async () =>
      `bots: ${JSON.stringify([a.out, a.err, b.out, b.err])}; page: ${JSON.stringify(await page.evaluate(() => (globalThis as any).room.peers.map((p: any) => [p.id, p.nick, p.path])))}`;
    // Each bot says its id (the fingerprint prefix of the certificate it keeps) and is admitted by the
    // relay. A bot that exits first fails the test at once, with what it printed.
    await poll(
      async () => {
        for (const x of [a, b]) if (x.proc.exitCode !== null) throw new Error(`a bot exited with ${x.proc.exitCode}: ${await why()}`);
        return a.out.includes("joined bots") && b.out.includes("joined bots");
      },
      60000,
      why,
    );
    expect(a.out[0]).toBe(`id ${low.id} relay ${relay.record.addr}`);
    expect(b.out[0]).toBe(`id ${high.id} relay ${relay.record.addr}`);

    // The page meets both directly (its side checks each DTLS certificate against the id).
    await poll(
      () =>
        page.evaluate(
          (ids) => ids.every((id) => (globalThis as any).room.peers.some((p: any) => p.id === id && p.path === "direct")),
          [low.id, high.id],
        ),
      20000,
      why,
    );
    const nicks = await page.evaluate(() => Object.fromEntries((globalThis as any).room.peers.map((p: any) => [p.id, p.nick])));
    expect(nicks).toEqual({ [low.id]: "bot-low", [high.id]: "bot-high" });
    // Each bot has the page as a peer on the direct path: met directly, or met through the relay
    // (the 3 s fallback, when the direct path took longer) and then moved to it (a path event).
    const direct = (out: string[]) =>
      out.includes(`peer ${pageId} alice direct`) ||
      (out.some((l) => l.startsWith(`peer ${pageId} alice `)) && out.includes(`path ${pageId} direct`));
    await poll(async () => direct(a.out) && direct(b.out), 60000, why);

    // Page → bot and bot → page: every bot answers each message on the direct channel.
    await page.evaluate(async () => {
      const g = globalThis as any;
      for (const p of g.room.peers) await p.send("hi " + p.nick);
      await g.room.send({ n: [1, 2, 3] });
    });
    await poll(() => page.evaluate(() => (globalThis as any).log.msgs.length >= 4), 60000, why);
    const msgs = await page.evaluate(() => (globalThis as any).log.msgs);
    expect(msgs).toContainEqual([low.id, "bot-low", "echo: hi bot-low"]);
    expect(msgs).toContainEqual([high.id, "bot-high", "echo: hi bot-high"]);
    expect(msgs).toContainEqual([low.id, "bot-low", { echo: { n: [1, 2, 3] } }]);
    expect(msgs).toContainEqual([high.id, "bot-high", { echo: { n: [1, 2, 3] } }]);
    expect(a.out).toContain(`message ${pageId} "hi bot-low"`);
    expect(b.out).toContain(`message ${pageId} "hi bot-high"`);

    // A bot that stops says goodbye: the page sees it leave at once (not after a timeout).
    a.proc.kill("SIGTERM");
    await poll(() => page.evaluate((id) => (globalThis as any).log.leaves.includes(id), low.id), 10000, why);
    expect(await a.proc.exited).toBe(0);
    expect(await page.evaluate(() => (globalThis as any).log.errors)).toEqual([]);
    await page.close();
  }, 240000);
});
