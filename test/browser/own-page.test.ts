// README "Use it from your own page", as a user does it: `npm start` run as documented, its
// printed relay record and ord server URL pasted into README's snippet (both ways it names:
// `relays` and `ord`), the page served from an ordinary local web server beside the
// dist/lumamesh.js npm start built, opened twice in headless Chromium: each page logs the other's
// hello, as README says.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser, Page } from "playwright-core";
import { launchChromium } from "../helpers/browser.ts";

const ROOT = join(import.meta.dir, "../..");
const readme = readFileSync(join(ROOT, "README.md"), "utf8");
const section = readme.slice(readme.indexOf("**Against `npm start`.**"));
/** README's snippet, verbatim. */
const SNIPPET = /```js\n([\s\S]*?)```/.exec(section)![1];
/** The `ord` way README gives in the sentence after it. */
const ORD_CALL = /`(connect\(\{ ord: \["URL"\] \}\))`/.exec(section)![1];

let start: ChildProcess;
let printed = "";
let browser: Browser;
let server: ReturnType<typeof Bun.serve>;
let page = "";

/** What npm start printed: the relay record's addr and fp, and the ord server's URL. */
function fromOutput() {
  const addr = /"addr":\s*"([^"]+)"/.exec(printed)?.[1];
  const fp = /"fp":\s*"([^"]+)"/.exec(printed)?.[1];
  const ord = /ord server\s+(https?:\/\/\S+)/.exec(printed)?.[1];
  return addr && fp && ord ? { addr, fp, ord } : null;
}

beforeAll(async () => {
  // Its own process group, so the whole of npm start (npm, sh, bun) stops with one signal to that group.
  start = spawn("npm", ["start"], { cwd: ROOT, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  start.stdout!.on("data", (d) => (printed += d));
  start.stderr!.on("data", (d) => (printed += d));
  for (let i = 0; i < 1200 && !fromOutput(); i++) {
    if (start.exitCode !== null) throw new Error("npm start exited: " + printed);
    await Bun.sleep(100);
  }
  if (!fromOutput()) throw new Error("npm start printed no relay record and ord URL:\n" + printed);
  browser = await launchChromium();
  server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/") return new Response(page, { headers: { "content-type": "text/html" } });
      // The file npm start built, as README says to copy it beside the page.
      if (path === "/lumamesh.js")
        return new Response(readFileSync(join(ROOT, "dist/lumamesh.js")), { headers: { "content-type": "text/javascript" } });
      return new Response("not found", { status: 404 });
    },
  });
}, 180000);

afterAll(async () => {
  await browser?.close();
  server?.stop(true);
  if (start?.pid && start.exitCode === null) {
    const exited = new Promise((r) => start.once("exit", r));
    process.kill(-start.pid, "SIGINT"); // Ctrl-C, as npm start says
    await exited;
  }
});

/** Two tabs of the page; resolves with what each logged as [nick, data] once both logged a hello. */
async function twoTabs(snippet: string): Promise<unknown[][][]> {
  page = `<!doctype html><meta charset=utf-8><title>my page</title><script type=module>\n${snippet}</script>`;
  const tabs: { p: Page; logs: unknown[][]; errors: string[] }[] = [];
  for (let i = 0; i < 2; i++) {
    const p = await browser.newPage();
    const t = { p, logs: [] as unknown[][], errors: [] as string[] };
    p.on("console", async (m) => t.logs.push(await Promise.all(m.args().map((a) => a.jsonValue()))));
    p.on("pageerror", (e) => t.errors.push(String(e)));
    await p.goto(`http://127.0.0.1:${server.port}/`);
    tabs.push(t);
  }
  const hello = (logs: unknown[][]) => logs.some((l) => JSON.stringify(l) === JSON.stringify(["alice", { hello: "world" }]));
  for (let i = 0; i < 600 && !tabs.every((t) => hello(t.logs)); i++) {
    if (tabs.some((t) => t.errors.length)) break;
    await Bun.sleep(100);
  }
  const logs = tabs.map((t) => t.logs);
  const errors = tabs.flatMap((t) => t.errors);
  for (const t of tabs) await t.p.close();
  expect(errors).toEqual([]);
  return logs;
}

describe("README: use it from your own page, against npm start as printed", () => {
  test("the snippet is there and names what to paste", () => {
    expect(SNIPPET).toContain('import { connect } from "./lumamesh.js";');
    expect(SNIPPET).toContain('connect({ relays: [{ addr: "ADDR", fp: "FP" }] })');
  });

  test("with `relays`: the relay record's addr and fp pasted in, two tabs each log the other's hello", async () => {
    const { addr, fp } = fromOutput()!;
    const logs = await twoTabs(SNIPPET.replace('"ADDR"', JSON.stringify(addr)).replace('"FP"', JSON.stringify(fp)));
    for (const l of logs) expect(l).toContainEqual(["alice", { hello: "world" }]);
  }, 90000);

  test("with `ord`: the ord server URL pasted in, the same", async () => {
    const { ord } = fromOutput()!;
    const call = ORD_CALL.replace('"URL"', JSON.stringify(ord));
    const snippet = SNIPPET.replace(/connect\(\{ relays: [^\n]*?\}\] \}\)/, call);
    expect(snippet).toContain(call);
    const logs = await twoTabs(snippet);
    for (const l of logs) expect(l).toContainEqual(["alice", { hello: "world" }]);
  }, 90000);
});
