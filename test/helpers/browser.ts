// Test helpers for real browsers: launch Debian's Chromium through playwright-core (the one place
// its flags are set, field trial included) and serve the freshly bundled library on loopback, or
// the previous one from git history. Browser tests fail (never skip) when Chromium is missing.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium, type Browser } from "playwright-core";
import { bundle } from "../../build.ts";

export const chromiumPath = () => process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

/** The Chrome that is coming: a page may no longer change its own a=ice-ufrag/a=ice-pwd (with
 * this trial on, Chromium refuses such an offer with InvalidModificationError; docs/protocol.md §1). */
export const FIELD_TRIALS = "WebRTC-NoSdpMangleUfrag/Enabled/";

/** The flags of EVERY Chromium the tests and benchmarks launch (test/net/chromium.ts adds its own
 * on top). `fieldTrials: false` only for the tests that show what the trial changes. */
export const chromiumArgs = (o: { fieldTrials?: boolean } = {}) => [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  ...(o.fieldTrials === false ? [] : [`--force-fieldtrials=${FIELD_TRIALS}`]),
];

const launchOptions = (o?: { fieldTrials?: boolean }) => ({ executablePath: chromiumPath(), headless: true, args: chromiumArgs(o) });

export async function launchChromium(o?: { fieldTrials?: boolean }): Promise<Browser> {
  return chromium.launch(launchOptions(o));
}

/** A Chromium whose process the test can kill (SIGKILL: no goodbye packets at all). */
export async function launchKillableChromium(): Promise<{ browser: Browser; kill(): void }> {
  const server = await chromium.launchServer(launchOptions());
  const browser = await chromium.connect(server.wsEndpoint());
  return { browser, kill: () => void server.process().kill("SIGKILL") };
}

let lib: Promise<Uint8Array> | undefined;
/** The library bundled exactly as build.ts ships it (built once per test process). */
export const libraryBytes = () => (lib ??= bundle("src/index.ts"));

/** The last commit whose library changed its own offer (a=ice-ufrag = a=ice-pwd = R, so USERNAME "R:R"). */
export const PREVIOUS_LIBRARY = "ec785f2";
let prev: Promise<Uint8Array> | undefined;
/** That library, bundled by today's build.ts from its sources in git history (once per test process). */
export const previousLibraryBytes = () =>
  (prev ??= (async () => {
    const root = join(import.meta.dir, "../..");
    const tar = Bun.spawnSync(["git", "-C", root, "archive", "--format=tar", PREVIOUS_LIBRARY, "src"]);
    if (tar.exitCode !== 0)
      throw new Error(
        `test: the previous library is built from git history (commit ${PREVIOUS_LIBRARY}), which this checkout lacks: ${tar.stderr}`,
      );
    const dir = mkdtempSync(join(tmpdir(), "lumamesh-previous-"));
    const x = Bun.spawnSync(["tar", "-x", "-C", dir], { stdin: tar.stdout });
    if (x.exitCode !== 0) throw new Error(`test: cannot unpack ${PREVIOUS_LIBRARY}:src: ${x.stderr}`);
    try {
      return await bundle(join(dir, "src/index.ts"));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  })());

/** A loopback HTTP server with `/` (an empty page) and `/lumamesh.js`; extra routes optional. */
export async function serveLibrary(extra: Record<string, () => Response | Promise<Response>> = {}) {
  const js = await libraryBytes();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path === "/lumamesh.js") return new Response(js as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } });
      if (extra[path]) return extra[path]();
      if (path === "/")
        return new Response("<!doctype html><meta charset=utf-8><title>lumamesh test</title>", {
          headers: { "content-type": "text/html" },
        });
      return new Response("not found", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
