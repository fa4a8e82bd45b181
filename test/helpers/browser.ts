// Test helpers for real browsers: launch Debian's Chromium through playwright-core and serve the
// freshly bundled library on loopback. Browser tests fail (never skip) when Chromium is missing.
import { chromium, type Browser } from "playwright-core";
import { bundle } from "../../build.ts";

export const chromiumPath = () => process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

const launchOptions = () => ({
  executablePath: chromiumPath(),
  headless: true,
  args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});

export async function launchChromium(): Promise<Browser> {
  return chromium.launch(launchOptions());
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

/** A loopback HTTP server with `/` (an empty page) and `/lumamesh.js`; extra routes optional. */
export async function serveLibrary(extra: Record<string, () => Response | Promise<Response>> = {}) {
  const js = await libraryBytes();
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const path = new URL(req.url).pathname;
      if (path == "/lumamesh.js") return new Response(js as Uint8Array<ArrayBuffer>, { headers: { "content-type": "text/javascript" } });
      if (extra[path]) return extra[path]();
      if (path == "/") return new Response("<!doctype html><meta charset=utf-8><title>lumamesh test</title>", { headers: { "content-type": "text/html" } });
      return new Response("not found", { status: 404 });
    },
  });
  return { url: `http://127.0.0.1:${server.port}`, stop: () => server.stop(true) };
}
