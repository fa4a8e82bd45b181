// README.md and docs/*.md as someone reads them after `npm install` in a checkout: every command
// is in a form that runs there (npm scripts, `npx` of an installed binary; no global `bun`, and
// `lumamesh-relay` only where install.sh has put it), names scripts and files that exist, and the
// documented --help commands and `npm run relay -- record` run as written.
import { describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { checkRecord } from "../relay/record.ts";

const ROOT = join(import.meta.dir, "..");
const pkg = JSON.parse(readFileSync(join(ROOT, "package.json"), "utf8"));
const scripts = pkg.scripts as Record<string, string>;
const DOCS = [
  "README.md",
  ...readdirSync(join(ROOT, "docs"))
    .filter((f) => f.endsWith(".md"))
    .map((f) => "docs/" + f),
];

interface Cmd {
  doc: string;
  text: string;
  block: boolean;
}

/** Commands in ```sh blocks (continuations joined, comments dropped) and in inline code spans that start with a command. */
function commands(doc: string): Cmd[] {
  const text = readFileSync(join(ROOT, doc), "utf8");
  const out: Cmd[] = [];
  for (const m of text.matchAll(/```sh\n([\s\S]*?)```/g))
    for (const line of m[1].replace(/\\\n\s*/g, " ").split("\n")) {
      const c = line.replace(/\s+#[^'"\n]*$/, "").trim();
      if (c && !c.startsWith("#") && !c.startsWith("…") && !c.startsWith("(") && !/^\w+\(/.test(c)) out.push({ doc, text: c, block: true });
    }
  const prose = text.replace(/```[\s\S]*?```/g, "");
  for (const m of prose.matchAll(/`((?:npm|npx|bun|sudo|lumamesh-relay) [^`]*)`/g)) out.push({ doc, text: m[1], block: false });
  return out;
}
const ALL = DOCS.flatMap(commands);
/** The simple commands of a shell line: split at &&, ||, ;, | (quotes are not split inside). */
const parts = (c: string) =>
  c
    .split(/&&|\|\||;|\|(?!\|)/)
    .map((p) =>
      p
        .trim()
        .replace(/^\(|\)$/g, "")
        .replace(/^(?:\w+=\S+\s+)+/, "")
        .trim(),
    )
    .filter(Boolean);

describe("every command in README.md and docs/*.md", () => {
  test("there are commands in every doc that has a sh block, README included", () => {
    expect(ALL.filter((c) => c.doc === "README.md").length).toBeGreaterThan(10);
    expect(new Set(ALL.map((c) => c.doc)).size).toBeGreaterThanOrEqual(5);
  });

  test("no global bun: Bun runs as npm run <script> or npx bun", () => {
    const bad = ALL.filter((c) => parts(c.text).some((p) => /^bun\b/.test(p)));
    expect(bad).toEqual([]);
  });

  test("npm run names a script of package.json; npx names a binary npm install put in node_modules/.bin; npx bun FILE names a file", () => {
    const bad: string[] = [];
    for (const c of ALL)
      for (const p of parts(c.text)) {
        const run = /^npm run (?:-s )?([\w:-]+)/.exec(p);
        if (run && !(run[1] in scripts)) bad.push(`${c.doc}: ${p}: no script ${run[1]}`);
        if (/^npm (start|test)\b/.test(p) && !(p.split(" ")[1] in scripts)) bad.push(`${c.doc}: ${p}`);
        const x = /^npx (\S+)(?: (\S+))?/.exec(p);
        if (x && !existsSync(join(ROOT, "node_modules/.bin", x[1]))) bad.push(`${c.doc}: ${p}: no node_modules/.bin/${x[1]}`);
        if (x?.[1] === "bun" && x[2] && /\.ts$/.test(x[2]) && !existsSync(join(ROOT, x[2]))) bad.push(`${c.doc}: ${p}: no file ${x[2]}`);
        if (run && / -- /.test(p) === false && p.split(" ").length > 3) bad.push(`${c.doc}: ${p}: arguments to an npm script need "--"`);
      }
    expect(bad).toEqual([]);
  });

  test("lumamesh-relay runs as a command only where install.sh has installed it (docs/install.md); elsewhere it is npm run relay --", () => {
    const bad = ALL.filter((c) => c.block && c.doc !== "docs/install.md" && parts(c.text).some((p) => /^(sudo )?lumamesh-relay\b/.test(p)));
    expect(bad).toEqual([]);
  });

  test("the documented --help commands run as written and print their usage", async () => {
    const helps = [...new Set(ALL.map((c) => c.text).filter((t) => /^npm (run \w+|start) -- --help$/.test(t)))];
    expect(helps.length).toBeGreaterThanOrEqual(3); // relay, inscribe, dev
    for (const h of helps) {
      const p = Bun.spawn(["sh", "-c", h], { cwd: ROOT, stdout: "pipe", stderr: "pipe" });
      const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
      expect({ h, code }).toEqual({ h, code: 0 });
      expect(out).toMatch(/usage/i);
    }
  }, 60000);

  test("README's `npm run relay -- record --data-dir DIR` runs as written (DIR a fresh directory) and prints a signed record", async () => {
    const cmd = ALL.find((c) => c.doc === "README.md" && c.text.startsWith("npm run relay -- record --data-dir DIR"))!.text;
    const dir = mkdtempSync(join(tmpdir(), "lumamesh-docs-"));
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("LUMAMESH_")));
    const p = Bun.spawn(["sh", "-c", cmd.replace("DIR", dir)], { cwd: ROOT, stdout: "pipe", stderr: "pipe", env });
    const [out, code] = await Promise.all([new Response(p.stdout).text(), p.exited]);
    expect(code).toBe(0);
    const rec = JSON.parse(out.slice(out.indexOf("{")));
    expect(checkRecord(rec)).toEqual(rec);
    expect(rec.addr).toBe("127.0.0.1:4884"); // nothing served from DIR yet: the defaults
  }, 60000);
});

test("README states the Node.js that package.json's engines asks for, and this machine's Node meets it", () => {
  const min = /^>=(\d+)$/.exec(pkg.engines.node)![1];
  expect(readFileSync(join(ROOT, "README.md"), "utf8")).toContain(`Needs Node.js ${min} or newer with npm`);
  const node = Bun.spawnSync(["node", "--version"]).stdout.toString().trim();
  expect(Number(/^v(\d+)/.exec(node)![1])).toBeGreaterThanOrEqual(Number(min));
});
