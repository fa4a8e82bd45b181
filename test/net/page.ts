// One tab of either driver (Playwright's or Puppeteer's Page) behind the NetPage shape, keeping
// its console lines and uncaught errors.
import type { NetPage } from "./browsers.ts";
import type { NetHost } from "./netns.ts";

/** A browser of one engine inside a namespace: its first tab, plus the driver's own objects. */
export interface BrowserIn<K extends string, B, P> extends NetPage {
  kind: K;
  host: NetHost;
  native: { browser: B; page: P };
  newPage(): Promise<NetPage & { native: P }>;
}

export function wrapPage<P>(native: P): NetPage & { native: P } {
  // The two drivers' Page types share these methods but not their TypeScript signatures.
  const page = native as any;
  const logs: string[] = [];
  page.on("console", (m: { type(): string; text(): string }) => logs.push(`${m.type()}: ${m.text()}`));
  page.on("pageerror", (e: unknown) => logs.push(`pageerror: ${e instanceof Error ? e.message : String(e)}`));
  return {
    native,
    async goto(url) {
      await page.goto(url);
    },
    evaluate: <T>(js: string): Promise<T> => page.evaluate(js),
    logs: () => [...logs],
    close: (): Promise<void> => page.close(),
  };
}
