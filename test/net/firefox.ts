// Debian's Firefox ESR inside a test namespace, driven over WebDriver BiDi by puppeteer-core.
// Firefox serves BiDi on a WebSocket on the namespace's own loopback, which the test process (in
// the root namespace) cannot reach; two forwarders bridge it through a filesystem Unix socket:
//
//   puppeteer ─ ws://127.0.0.1:P (root ns, forward() in this process) ─▶ <tmp>/bidi.sock
//             ─▶ forward.ts inside the namespace ─▶ Firefox on 127.0.0.1:P (namespace loopback)
//
// Both ends use the same port P: Firefox's server answers 400 to a Host header whose port is not
// its own. P is picked free in the root namespace; the namespace's loopback is empty, so it is
// free there too.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import puppeteer, { type Browser, type Page } from "puppeteer-core";
import { atExit } from "./cleanup.ts";
import { forward } from "./forward.ts";
import type { NetHost } from "./netns.ts";
import { watchOutput } from "./output.ts";
import { wrapPage, type BrowserIn } from "./page.ts";

export const firefoxPath = () => process.env.FIREFOX_PATH ?? "/usr/bin/firefox-esr";

/** user.js of the fresh profile. The Remote Agent adds its own automation prefs on top. */
export const firefoxPrefs: Record<string, string | number | boolean> = {
  // WebRTC: real host addresses in candidates (not mDNS names), no permission prompts, fake devices.
  "media.peerconnection.ice.obfuscate_host_addresses": false,
  "media.navigator.permission.disabled": true,
  "media.navigator.streams.fake": true,
  // No first-run pages, default-browser checks or background calls to servers we cannot reach.
  "browser.shell.checkDefaultBrowser": false,
  "browser.startup.homepage_override.mstone": "ignore",
  "browser.startup.page": 0,
  "browser.startup.homepage": "about:blank",
  "browser.aboutwelcome.enabled": false,
  "datareporting.policy.dataSubmissionEnabled": false,
  "toolkit.telemetry.reportingpolicy.firstRun": false,
  "app.normandy.enabled": false,
  "app.update.auto": false,
  "messaging-system.rsexperimentloader.enabled": false,
  "network.captive-portal-service.enabled": false,
  "network.connectivity-service.enabled": false,
  "network.proxy.type": 0,
  "browser.safebrowsing.malware.enabled": false,
  "browser.safebrowsing.phishing.enabled": false,
  "extensions.update.enabled": false,
};

export type FirefoxIn = BrowserIn<"firefox", Browser, Page>;

export async function launchFirefoxIn(host: NetHost): Promise<FirefoxIn> {
  const bin = firefoxPath();
  if (!existsSync(bin)) throw new Error(`test/net: Firefox is missing at ${bin}: apt-get install -y firefox-esr (or set FIREFOX_PATH)`);
  const dir = mkdtempSync(`${tmpdir()}/lmfirefox-`);
  const profile = `${dir}/profile`;
  const sock = `${dir}/bidi.sock`;
  mkdirSync(profile);
  writeFileSync(
    `${profile}/user.js`,
    Object.entries(firefoxPrefs)
      .map(([k, v]) => `user_pref(${JSON.stringify(k)}, ${JSON.stringify(v)});\n`)
      .join(""),
  );

  const outer = forward({ hostname: "127.0.0.1", port: 0 }, { unix: sock });
  const port = outer.port!;
  const env = { ...process.env, HOME: dir, MOZ_CRASHREPORTER_DISABLE: "1" };
  const ff = host.spawn([bin, "--headless", "--no-remote", "--profile", profile, "--remote-debugging-port", String(port)], {
    env,
    stdout: "pipe",
    stderr: "pipe",
  });
  const ffOut = watchOutput(ff.stderr);
  watchOutput(ff.stdout);
  let inner: { kill(signal: "SIGKILL"): void } | undefined;
  let browser: Browser | undefined;
  const teardown = () => {
    void browser?.disconnect().catch(() => {});
    // Killed, not asked to quit: a graceful browser.close() takes Firefox about 5 s to exit.
    ff.kill("SIGKILL");
    inner?.kill("SIGKILL");
    outer.stop();
    rmSync(dir, { recursive: true, force: true });
  };
  const unregister = atExit(teardown);
  try {
    await ffOut.match(new RegExp(`WebDriver BiDi listening on ws://127\\.0\\.0\\.1:${port}`), 30_000);
    const fw = host.spawn([process.execPath, `${import.meta.dir}/forward.ts`, `unix:${sock}`, `tcp:127.0.0.1:${port}`], {
      stdout: "pipe",
      stderr: "inherit",
    });
    inner = fw;
    await watchOutput(fw.stdout).match(/listening/);
    browser = await puppeteer.connect({ browserWSEndpoint: `ws://127.0.0.1:${port}/session`, protocol: "webDriverBiDi" });
  } catch (e) {
    teardown();
    unregister();
    throw new Error(`test/net: Firefox in ${host.ns} did not start: ${(e as Error).message}\n${ffOut.text().slice(-2000)}`);
  }
  const b = browser;
  const first = wrapPage((await b.pages())[0] ?? (await b.newPage()));
  return {
    kind: "firefox",
    host,
    native: { browser: b, page: first.native },
    goto: first.goto,
    evaluate: first.evaluate,
    logs: first.logs,
    async newPage() {
      return wrapPage(await b.newPage());
    },
    async close() {
      teardown();
      unregister();
      await ff.exited;
    },
  };
}
