// The chat inscription in both engines across a real network: the embedded default (relay + ord
// server with the library, bootstrap config and examples) runs on a LAN-style address on the public
// test segment, served over plain HTTP, so pages have no crypto.subtle and must load the lazy noble
// fallback; a Chromium page behind one cone NAT and a Firefox page behind another open the chat in
// ord's sandboxed iframe under ord's CSP, find the relay through recursion alone, and chat both ways.
// The ord server decodes br for them (ord's --decompress): browsers ask for br from secure origins only.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { launchIn, type NetBrowser } from "./browsers.ts";
import { createTestNet, type NetHost, type TestNet } from "./netns.ts";
import { SATS } from "../../build.ts";
import { poll } from "../helpers/poll.ts";

type Info = { record: { addr: string }; ord: string; urls: Record<string, string> };

/** The sandboxed inscription frame of an ord /inscription page, in either driver. */
async function inscriptionFrame(b: NetBrowser): Promise<{ evaluate(js: string): Promise<any> }> {
  for (let i = 0; i < 200; i++) {
    const f = (b.native.page.frames() as any[]).find((f) => f.url().includes("/preview/"));
    if (f) return { evaluate: (js: string) => f.evaluate(js) };
    await Bun.sleep(50);
  }
  throw new Error(`${b.kind}: no /preview/ frame`);
}
const waitText = (f: { evaluate(js: string): Promise<any> }, text: string, ms: number, who: string, logs?: string[]) =>
  poll(
    () => f.evaluate(`document.body.innerText.includes(${JSON.stringify(text)})`).catch(() => false),
    ms,
    async () =>
      `${who}: no "${text}"; page: ${await f.evaluate("document.body.innerText").catch((e: any) => String(e))}; console: ${logs?.join(" | ")}`,
  );
const say = (f: { evaluate(js: string): Promise<any> }, text: string) =>
  f.evaluate(
    `(() => { const i = document.querySelector("input"); i.value = ${JSON.stringify(text)}; i.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" })); })()`,
  );

describe("the chat inscription across NATs, from an ord server on plain HTTP", () => {
  let net: TestNet;
  let ordHost: NetHost;
  let info: Info;
  beforeAll(async () => {
    net = await createTestNet();
    ordHost = await net.publicHost("ord");
    const proc = ordHost.spawn(
      [process.execPath, join(import.meta.dir, "embedded-proc.ts"), ordHost.ip, mkdtempSync(join(tmpdir(), "lumamesh-emb-"))],
      { stdout: "pipe", stderr: "inherit" },
    );
    const reader = proc.stdout.getReader();
    let buf = "";
    while (!buf.includes("\n")) {
      const { value, done } = await reader.read();
      if (done) throw new Error("embedded-proc exited before serving");
      buf += new TextDecoder().decode(value);
    }
    info = JSON.parse(buf.slice(0, buf.indexOf("\n")));
  }, 60_000);
  afterAll(async () => {
    await net?.destroy();
  }, 20_000);

  test("Chromium and Firefox behind two cone NATs chat through the inscription; both load the noble fallback", async () => {
    expect(info.ord).toBe(`http://${ordHost.ip}:${new URL(info.ord).port}`);
    expect(info.record.addr).toStartWith(ordHost.ip + ":");
    const pages: { b: NetBrowser; f: Awaited<ReturnType<typeof inscriptionFrame>> }[] = [];
    try {
      for (const [i, kind] of (["chromium", "firefox"] as const).entries()) {
        const home = await net.natRouter(`ins${i}`, "cone");
        const b = await launchIn(await home.host(`ins${i}h`), kind);
        pages.push({ b, f: undefined as any });
        await b.goto(info.urls.chat);
        pages[i].f = await inscriptionFrame(b);
      }
      for (const { b, f } of pages) {
        // Plain HTTP on a non-loopback address: not a secure context, so no WebCrypto.
        expect(await f.evaluate("typeof crypto.subtle")).toBe("undefined");
        await waitText(f, "joined", 30_000, b.kind, b.logs());
      }
      const [cr, ff] = pages;
      await say(cr.f, "hello from chromium");
      await waitText(ff.f, ": hello from chromium", 10_000, "firefox");
      await say(ff.f, "hello from firefox");
      await waitText(cr.f, ": hello from firefox", 10_000, "chromium");
      // Each page fetched the fallback from its sat, through ord's recursive route.
      for (const { f } of pages) {
        const names: string[] = await f.evaluate(`performance.getEntriesByType("resource").map((e) => new URL(e.name).pathname)`);
        expect(names).toContain(`/r/sat/${SATS.fallback}/at/-1/content`);
        expect(names).toContain(`/r/sat/${SATS.lib}/at/-1/content`);
        for (const n of names) expect(n).toMatch(/^\/(r|content)\//);
      }
    } finally {
      for (const { b } of pages) await b.close().catch(() => {});
    }
  }, 120_000);
});
