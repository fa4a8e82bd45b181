// Debian's Chromium inside a test namespace, driven by playwright-core. Playwright launches a
// wrapper script (`exec ip netns exec <ns> chromium "$@"`) and talks to the browser over its pipe
// (fds 3 and 4), which `ip netns exec` passes through: no port, no extra interface in the namespace.
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { chromium, type Browser, type Page } from "playwright-core";
import { chromiumArgs, chromiumPath } from "../helpers/browser.ts";
import { atExit } from "./cleanup.ts";
import type { NetHost } from "./netns.ts";
import { wrapPage, type BrowserIn } from "./page.ts";

/** The flags of test/helpers/browser.ts (field trial included), plus real host addresses in ICE
 * candidates instead of random `<uuid>.local` mDNS names (Firefox gets the same through a pref, see firefox.ts). */
export const netChromiumArgs = [...chromiumArgs(), "--disable-features=WebRtcHideLocalIpsWithMdns"];

export type ChromiumIn = BrowserIn<"chromium", Browser, Page>;

export async function launchChromiumIn(host: NetHost): Promise<ChromiumIn> {
  const bin = chromiumPath();
  if (!existsSync(bin)) throw new Error(`test/net: Chromium is missing at ${bin}: apt-get install -y chromium (or set CHROMIUM_PATH)`);
  const dir = mkdtempSync(`${tmpdir()}/lmchromium-`);
  const removeDir = () => rmSync(dir, { recursive: true, force: true });
  const unregister = atExit(removeDir);
  const wrapper = `${dir}/chromium`;
  writeFileSync(wrapper, `#!/bin/sh\nexec ip netns exec ${host.ns} ${bin} "$@"\n`);
  chmodSync(wrapper, 0o755);
  let browser: Browser;
  try {
    browser = await chromium.launch({ executablePath: wrapper, headless: true, args: netChromiumArgs, timeout: 30_000 });
  } catch (e) {
    removeDir();
    unregister();
    throw e;
  }
  const first = wrapPage(await browser.newPage());
  return {
    kind: "chromium",
    host,
    native: { browser, page: first.native },
    goto: first.goto,
    evaluate: first.evaluate,
    logs: first.logs,
    async newPage() {
      return wrapPage(await browser.newPage());
    },
    async close() {
      await browser.close();
      removeDir();
      unregister();
    },
  };
}
