// `npm start` as a user runs it and as it prints, on a machine of the test's own making: a network
// namespace whose only non-loopback address is 10.77.0.X (with a default route), like a laptop on
// a LAN. The relay must listen there (Firefox never uses loopback for WebRTC) and the bootstrap
// config must name it; Firefox and Chromium, on that machine, open the printed chat URL and meet.
// The same run serves examples/hello with --serve (docs/ord-server.md's worked example): its printed
// page, in ord's sandboxed iframe, connects to the embedded relay and two tabs exchange messages.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { SATS } from "../../build.ts";
import { launchIn, type NetBrowser } from "./browsers.ts";
import { createTestNet, type NetHost, type TestNet } from "./netns.ts";
import { watchOutput, type Output } from "./output.ts";
import { poll } from "../helpers/poll.ts";

const ROOT = join(import.meta.dir, "../..");
const HELLO = "examples/hello";

type Evaluator = { evaluate(js: string): Promise<any> };

/** The sandboxed frame of an ord /inscription page in either driver, once it has a document. */
async function previewFrame(page: { frames(): any[] }, who: string): Promise<Evaluator> {
  let frame: any;
  await poll(
    async () => (frame = page.frames().find((f) => f.url().includes("/preview/"))),
    30_000,
    async () => `${who}: no /preview/ frame`,
  );
  return { evaluate: (js: string) => frame.evaluate(js) };
}
const waitText = (f: Evaluator, text: string, who: string, logs: () => string[]) =>
  poll(
    () => f.evaluate(`document.body.innerText.includes(${JSON.stringify(text)})`).catch(() => false),
    30_000,
    async () =>
      `${who}: no "${text}"; page: ${await f.evaluate("document.body.innerText").catch((e: any) => String(e))}; console: ${logs().join(" | ")}`,
  );
const enter = (f: Evaluator, text: string) =>
  f.evaluate(
    `(() => { const i = document.querySelector("input"); i.value = ${JSON.stringify(text)}; i.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter" })); })()`,
  );

describe("npm start on a machine with a LAN address", () => {
  let net: TestNet;
  let machine: NetHost;
  let out: Output;
  let banner: string;
  beforeAll(async () => {
    const npm = Bun.which("npm");
    if (!npm) throw new Error("npm is missing: the README's quick start needs Node.js with npm");
    net = await createTestNet();
    machine = await net.publicHost("laptop");
    const proc = machine.spawn([npm, "start", "--", "--serve", HELLO], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
    out = watchOutput(proc.stdout);
    const err = watchOutput(proc.stderr);
    try {
      await out.match(/^Ctrl-C stops both\.$/m, 120_000);
    } catch (e) {
      throw new Error(`${(e as Error).message}\nstderr:\n${err.text().slice(-4000)}`);
    }
    banner = out.text();
  }, 150_000);
  afterAll(async () => {
    await net?.destroy(); // kills npm and the bun it started: every process in the namespace
  }, 30_000);

  const line = (re: RegExp) => {
    const m = re.exec(banner);
    if (!m) throw new Error(`the banner has no ${re}:\n${banner}`);
    return m;
  };

  test("the relay listens on the machine's address (said in the banner) and the bootstrap config names it; Firefox and Chromium meet in the printed chat", async () => {
    const [, relayAddr, why] = line(/^  relay\s+udp:\/\/(\S+)\s+\((.*)\)$/m);
    expect(relayAddr).toBe(`${machine.ip}:4884`);
    expect(why).toContain("this machine's address on eth0");
    const ordUrl = line(/^  ord server (http:\/\/\S+)/m)[1]!;
    expect(ordUrl).toBe("http://127.0.0.1:8080"); // loopback: a secure context, as README says
    const chatUrl = line(/^  chat\s+(http:\/\/\S+)$/m)[1]!;
    const browsers: NetBrowser[] = [];
    try {
      const frames: Evaluator[] = [];
      for (const kind of ["chromium", "firefox"] as const) {
        const b = await launchIn(machine, kind);
        browsers.push(b);
        await b.goto(chatUrl);
        frames.push(await previewFrame(b.native.page as any, kind));
      }
      // What the pages read from the bootstrap sat (through ord recursion) names the printed relay.
      const boot = JSON.parse(await browsers[0]!.evaluate<string>(`fetch("/r/sat/${SATS.boot}/at/-1/content").then((r) => r.text())`));
      expect(boot.relays.map((r: { addr: string }) => r.addr)).toEqual([relayAddr]);
      const [cr, ff] = frames as [Evaluator, Evaluator];
      const [crb, ffb] = browsers as [NetBrowser, NetBrowser];
      await waitText(cr, "joined", "chromium", crb.logs);
      await waitText(ff, "joined", "firefox", ffb.logs);
      await enter(cr, "hello from chromium");
      await waitText(ff, ": hello from chromium", "firefox", ffb.logs);
      await enter(ff, "hello from firefox");
      await waitText(cr, ": hello from firefox", "chromium", crb.logs);
    } finally {
      for (const b of browsers) await b.close().catch(() => {});
    }
  }, 120_000);

  test("--serve: the folder's index.html, opened at the printed URL in ord's sandboxed iframe, connects to the embedded relay; two tabs exchange messages", async () => {
    const page = line(/^  page\s+(http:\/\/\S+\/inscription\/(\S+))\s/m);
    const content = line(/^  content\s+(http:\/\/\S+\/content\/(\S+))\s/m);
    expect(content[2]).toBe(page[2]!);
    const b = await launchIn(machine, "chromium");
    try {
      // The printed /content URL serves the folder's file, byte for byte.
      await b.goto(content[1]!);
      expect(await b.evaluate<string>(`fetch(location.href).then((r) => r.text())`)).toBe(
        readFileSync(join(ROOT, HELLO, "index.html"), "utf8"),
      );
      const tabs: { frame: Evaluator; logs: string[] }[] = [];
      for (let k = 0; k < 2; k++) {
        const tab: Page = await (b.native.browser as any).newPage();
        const logs: string[] = [];
        tab.on("console", (m) => logs.push(`${m.type()}: ${m.text()}`));
        await tab.goto(page[1]!);
        const frame = await previewFrame(tab, `tab ${k}`);
        expect(await frame.evaluate("origin")).toBe("null"); // sandboxed: an opaque origin
        await waitText(frame, "joined as guest-", `tab ${k}`, () => logs);
        tabs.push({ frame, logs });
      }
      const [a, c] = tabs as [(typeof tabs)[0], (typeof tabs)[0]];
      const nick = async (t: Evaluator) =>
        ((await t.evaluate(`document.getElementById("state").textContent`)) as string).replace("joined as ", "");
      const [na, nc] = [await nick(a.frame), await nick(c.frame)];
      await waitText(a.frame, `${nc} joined`, "tab 0", () => a.logs);
      await enter(a.frame, "hello from tab 0");
      await waitText(c.frame, `${na}: hello from tab 0`, "tab 1", () => c.logs);
      await enter(c.frame, "hello back");
      await waitText(a.frame, `${nc}: hello back`, "tab 0", () => a.logs);
    } finally {
      await b.close().catch(() => {});
    }
  }, 120_000);
});
