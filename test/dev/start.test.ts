// The plain parts of `npm start` (dev/start.ts) and of --serve (dev/ord/folder.ts): options, where
// the relay listens and what the banner says, and how a folder becomes inscriptions. The whole
// command runs end to end, in Firefox and Chromium, in test/net/start.test.ts.
import { describe, expect, test } from "bun:test";
import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileSat, readFolder } from "../../dev/ord/folder.ts";
import { listenAddresses, parseStartArgs, startBanner } from "../../dev/start.ts";

const ROOT = join(import.meta.dir, "../..");
const LAN = { address: "192.168.1.23", iface: "wlan0", reason: "default-route" as const };
const LOOP = { address: "127.0.0.1", iface: "lo", reason: "loopback-only" as const };

describe("parseStartArgs", () => {
  test("defaults, every option, and clear errors", () => {
    expect(parseStartArgs([])).toEqual({ host: null, relayPort: 4884, ordPort: 8080, serve: null });
    expect(parseStartArgs(["--serve", "./my-folder", "--relay-port", "0", "--ord-port", "9090", "--host", "10.0.0.5"])).toEqual({
      host: "10.0.0.5",
      relayPort: 0,
      ordPort: 9090,
      serve: "./my-folder",
    });
    expect(parseStartArgs(["--relay-port", "1", "--help"])).toBe("help");
    expect(() => parseStartArgs(["--serve"])).toThrow("--serve needs a value");
    expect(() => parseStartArgs(["--ord-port", "80x"])).toThrow("--ord-port: not a port: 80x");
    expect(() => parseStartArgs(["--relay-port", "65536"])).toThrow("not a port");
    expect(() => parseStartArgs(["--sever", "x"])).toThrow("unknown argument --sever");
    expect(() => parseStartArgs(["--host", "0.0.0.0"])).toThrow("not a wildcard");
  });
});

describe("listenAddresses", () => {
  test("by default: ord on loopback (a secure context), the relay on the machine's address", () => {
    const l = listenAddresses(null, LAN);
    expect(l).toMatchObject({ ordHost: "127.0.0.1", relayHost: "192.168.1.23", decompress: false });
    expect(l.relayWhy).toContain("this machine's address on wlan0");
  });
  test("a machine with loopback only: the relay there, and the banner says Firefox will not reach it", () => {
    const l = listenAddresses(null, LOOP);
    expect(l).toMatchObject({ ordHost: "127.0.0.1", relayHost: "127.0.0.1", decompress: false });
    expect(l.relayWhy).toContain("Firefox will not");
  });
  test("--host: both there; off loopback the ord server decodes br (pages there are not a secure context)", () => {
    expect(listenAddresses("10.0.0.5", LAN)).toMatchObject({ ordHost: "10.0.0.5", relayHost: "10.0.0.5", decompress: true });
    expect(listenAddresses("127.0.0.1", LAN)).toMatchObject({ ordHost: "127.0.0.1", relayHost: "127.0.0.1", decompress: false });
  });
});

describe("startBanner", () => {
  const base = {
    relayAddr: "192.168.1.23:4884",
    relayWhy: "why",
    ordUrl: "http://127.0.0.1:8080",
    sats: { lib: 1, boot: 2 },
    examples: [["chat", "http://127.0.0.1:8080/inscription/c"]] as [string, string][],
    record: { addr: "192.168.1.23:4884" },
  };
  test("labelled lines: relay with its reason, ord server, each example; with --serve the page and content URLs of index.html", () => {
    const files = [
      { file: "app.js", id: "a".repeat(64) + "i0", sat: 7 },
      { file: "index.html", id: "b".repeat(64) + "i0", sat: 8 },
    ];
    const b = startBanner({ ...base, served: { dir: "./my-folder", from: "files", files, skipped: ["notes.xyz"] } });
    expect(b).toMatch(/^  relay      udp:\/\/192\.168\.1\.23:4884   \(why\)$/m);
    expect(b).toMatch(/^  chat     http:\/\/127\.0\.0\.1:8080\/inscription\/c$/m);
    expect(b).toContain(`  app.js      sat 7  http://127.0.0.1:8080/inscription/${"a".repeat(64)}i0`);
    expect(b).toMatch(new RegExp(`^  page     http://127\\.0\\.0\\.1:8080/inscription/${"b".repeat(64)}i0 `, "m"));
    expect(b).toMatch(new RegExp(`^  content  http://127\\.0\\.0\\.1:8080/content/${"b".repeat(64)}i0 `, "m"));
    expect(b).toContain("notes.xyz");
    expect(b.trimEnd().endsWith("Ctrl-C stops both.")).toBe(true);
  });
  test("a folder without index.html says so; without --serve there is no folder section", () => {
    const b = startBanner({
      ...base,
      served: { dir: "d", from: "files", files: [{ file: "x.js", id: "c".repeat(64) + "i0", sat: 1 }], skipped: [] },
    });
    expect(b).toContain("no index.html");
    expect(b).not.toMatch(/^  page /m);
    expect(startBanner({ ...base, served: null })).not.toContain("Your folder");
  });
});

describe("readFolder", () => {
  test("without a manifest: every file (sub-folders too, dotfiles not), content type from ord's table, each on a sat of its own derived from its path", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lm-serve-"));
    mkdirSync(join(dir, "lib"));
    mkdirSync(join(dir, ".git"));
    writeFileSync(join(dir, "index.html"), "<p>hi</p>");
    writeFileSync(join(dir, "lib", "app.js"), "export {}");
    writeFileSync(join(dir, ".git", "HEAD"), "x");
    writeFileSync(join(dir, "notes.xyz"), "?");
    const f = await readFolder(dir);
    expect(f.from).toBe("files");
    expect(f.entries.map((e) => [e.file, e.input.content_type, e.input.sat])).toEqual([
      ["index.html", "text/html;charset=utf-8", fileSat("index.html")],
      ["lib/app.js", "text/javascript", fileSat("lib/app.js")],
    ]);
    expect(new TextDecoder().decode(f.entries[0]!.input.body as Uint8Array)).toBe("<p>hi</p>");
    expect(f.skipped).toEqual(["notes.xyz"]);
  });
  test("file sats: stable, distinct, within the sat supply, bumped past a collision", () => {
    expect(fileSat("index.html")).toBe(fileSat("index.html"));
    expect(fileSat("index.html")).not.toBe(fileSat("app.js"));
    for (const p of ["index.html", "a", "lib/app.js"]) {
      expect(fileSat(p)).toBeGreaterThanOrEqual(1e15);
      expect(fileSat(p)).toBeLessThan(2_099_999_997_690_000);
    }
    const s = fileSat("index.html");
    expect(fileSat("index.html", (x) => x === s)).toBe(s + 1);
  });
  test("with a manifest.json: its entries, with their files; a missing or empty folder is a clear error", async () => {
    const dir = mkdtempSync(join(tmpdir(), "lm-serve-"));
    writeFileSync(join(dir, "index.html"), "<p>hi</p>");
    writeFileSync(join(dir, "manifest.json"), JSON.stringify({ version: 1, inscriptions: [{ file: "index.html", sat: 42 }] }));
    const f = await readFolder(dir);
    expect(f.from).toBe("manifest");
    expect(f.entries.map((e) => [e.file, e.input.sat])).toEqual([["index.html", 42]]);
    await expect(readFolder(join(dir, "nope"))).rejects.toThrow("serve: no folder");
    const empty = mkdtempSync(join(tmpdir(), "lm-serve-"));
    writeFileSync(join(empty, "x.unknown"), "?");
    await expect(readFolder(empty)).rejects.toThrow("has no file to inscribe (unknown extensions: x.unknown)");
  });
});

test("docs/ord-server.md's worked example is examples/hello/index.html, verbatim", () => {
  const doc = readFileSync(join(ROOT, "docs/ord-server.md"), "utf8");
  expect(doc).toContain("```html\n" + readFileSync(join(ROOT, "examples/hello/index.html"), "utf8") + "```");
});
