// The dev ord server's explorer pages render as ord's do, in real headless Chromium: the
// /inscription/<id> page keeps ord's own `default-src 'self'` CSP and is styled by ord's
// /static/index.css (no inline style for the CSP to block), the preview iframe gets the size ord's
// CSS gives it (square, flex-basis 75% of the row), and /favicon.ico is ord's favicon.
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Browser } from "playwright-core";
import { startOrdServer, type OrdServer } from "../../dev/ord-server.ts";
import { launchChromium } from "../helpers/browser.ts";

const STATIC = join(import.meta.dir, "../../dev/ord/static");
// An inscription that shows how big its own window is.
const APP = `<!doctype html><meta charset=utf-8><body style="margin:0;background:#234">
<p id=size></p><script>size.textContent = innerWidth + "x" + innerHeight</script>`;

let ord: OrdServer;
let browser: Browser;
let id: string;
beforeAll(async () => {
  ord = await startOrdServer();
  ord.add({ body: "first", content_type: "text/plain;charset=utf-8" });
  id = ord.add({ body: APP, content_type: "text/html;charset=utf-8" }).id;
  ord.add({ body: "last", content_type: "text/plain;charset=utf-8" });
  browser = await launchChromium();
});
afterAll(async () => {
  await browser?.close();
  await ord?.stop();
});

describe("ord's static route and favicon", () => {
  test("/favicon.ico is ord's favicon.png; /static/<file> serves ord's files with their types; others 404", async () => {
    const fav = await fetch(`${ord.url}/favicon.ico`);
    expect(fav.status).toBe(200);
    expect(fav.headers.get("content-type")).toBe("image/png");
    const png = new Uint8Array(await fav.arrayBuffer());
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png).toEqual(new Uint8Array(readFileSync(join(STATIC, "favicon.png"))));
    for (const [file, type] of [
      ["index.css", "text/css"],
      ["modern-normalize.css", "text/css"],
      ["favicon.svg", "image/svg+xml"],
    ]) {
      const r = await fetch(`${ord.url}/static/${file}`);
      expect(r.status).toBe(200);
      expect(r.headers.get("content-type")).toBe(type);
      expect(await r.text()).toBe(readFileSync(join(STATIC, file!), "utf8"));
    }
    // server.rs static_asset: ok_or_not_found(|| format!("asset {path}")), path without the leading slash.
    const missing = await fetch(`${ord.url}/static/preview-text.js`);
    expect(missing.status).toBe(404);
    expect(missing.headers.get("cache-control")).toBe("no-store");
    expect(await missing.text()).toBe("asset preview-text.js not found");
  });
});

describe("/inscription/<id> in Chromium", () => {
  test("no CSP violation or console error, ord's stylesheet applied, the preview iframe square and at least 75% of the row", async () => {
    const page = await browser.newPage();
    const errors: string[] = [];
    page.on("console", (m) => m.type() === "error" && errors.push(m.text()));
    page.on("pageerror", (e) => errors.push(e.message));
    await page.addInitScript(() => {
      (window as any).violations = [];
      document.addEventListener("securitypolicyviolation", (e) =>
        (window as any).violations.push(`${e.violatedDirective} ${e.blockedURI}`),
      );
    });
    const res = await page.goto(`${ord.url}/inscription/${id}`);
    // The page keeps ord's own policy: nothing was loosened to make it render.
    expect(res!.headers()["content-security-policy"]).toBe("default-src 'self'");
    const frame = await (async () => {
      for (let i = 0; i < 200; i++) {
        const f = page.frames().find((f) => f.url().endsWith(`/preview/${id}`));
        if (f && (await f.evaluate(() => document.getElementById("size")?.textContent ?? "").catch(() => ""))) return f;
        await Bun.sleep(50);
      }
      throw new Error("the inscription did not run in its iframe");
    })();
    await page.waitForLoadState("load");
    expect(await page.evaluate(() => (window as any).violations)).toEqual([]);
    expect(errors).toEqual([]);
    // index.css: html { background-color: var(--dark-bg) } = #131516; main is 50rem wide at most.
    expect(await page.evaluate(() => getComputedStyle(document.documentElement).backgroundColor)).toBe("rgb(19, 21, 22)");
    expect(await page.evaluate(() => getComputedStyle(document.querySelector("main")!).maxWidth)).toBe("100%");
    const box = await page.evaluate(() => {
      const r = document.querySelector(".inscription > iframe")!.getBoundingClientRect();
      const row = document.querySelector(".inscription")!.getBoundingClientRect();
      return { w: r.width, h: r.height, row: row.width };
    });
    // index.css: .inscription > *:nth-child(2) { flex: 0 75% } and iframe { aspect-ratio: 1 / 1 }:
    // at least 75% of the row and square (a bare iframe is 300×150).
    expect(box.w).toBeGreaterThanOrEqual(0.75 * box.row - 1);
    expect(Math.abs(box.h - box.w)).toBeLessThan(1);
    // The inscription itself gets that whole square as its window.
    expect(await frame.evaluate(() => [innerWidth, innerHeight])).toEqual([Math.round(box.w), Math.round(box.h)]);
    await page.close();
  });
});
