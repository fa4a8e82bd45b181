// Real browsers inside test namespaces, behind one small interface for both engines: Chromium
// (playwright-core, chromium.ts) and Firefox ESR (puppeteer-core over WebDriver BiDi, firefox.ts).
// Also the routes of a page that loads the freshly bundled library as /lumamesh.js.
import { libraryBytes } from "../helpers/browser.ts";
import { launchChromiumIn, type ChromiumIn } from "./chromium.ts";
import { launchFirefoxIn, type FirefoxIn } from "./firefox.ts";
import type { NetHost, Routes } from "./netns.ts";

export { launchChromiumIn, type ChromiumIn } from "./chromium.ts";
export { firefoxPath, launchFirefoxIn, type FirefoxIn } from "./firefox.ts";

/** One tab. */
export interface NetPage {
  /** Navigate and wait for the load event. */
  goto(url: string): Promise<void>;
  /** Evaluate a JavaScript expression in the page; a promise is awaited. The result must be JSON-like. */
  evaluate<T = unknown>(js: string): Promise<T>;
  /** Console messages (`type: text`) and uncaught errors (`pageerror: message`) so far. */
  logs(): string[];
  close(): Promise<void>;
}

export type BrowserKind = "chromium" | "firefox";

/** A browser running inside `host`'s namespace. goto/evaluate/logs act on its first tab; close()
 * ends the whole browser. `native` is the driver's own browser and first page. */
export type NetBrowser = ChromiumIn | FirefoxIn;

export const BROWSERS: readonly BrowserKind[] = ["chromium", "firefox"];

export function launchIn(host: NetHost, kind: BrowserKind): Promise<NetBrowser> {
  return kind === "chromium" ? launchChromiumIn(host) : launchFirefoxIn(host);
}

/** `/` (an empty page) and `/lumamesh.js` (the library, bundled as build.ts ships it), plus `extra`. */
export async function libraryRoutes(extra: Routes = {}): Promise<Routes> {
  return {
    "/": { body: "<!doctype html><meta charset=utf-8><title>lumamesh test</title>", type: "text/html" },
    "/lumamesh.js": { body: await libraryBytes(), type: "text/javascript" },
    ...extra,
  };
}
