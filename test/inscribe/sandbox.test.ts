// The regtest sandbox as a user meets it, and the commands of docs/inscribe.md and docs/register.md:
// the one-command dry runs are run exactly as the docs write them (through npm), the served
// sandbox's printed commands are run as printed and match the docs, and every other documented
// command parses with the flags the tools really take.
import { afterAll, describe, expect, test } from "bun:test";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import * as btc from "@scure/btc-signer";
import { hex } from "@scure/base";
import { OPTIONS } from "../../inscribe/main.ts";
import { SANDBOX_PORTS } from "../../inscribe/testing/sandbox.ts";
import { parseConfig, ConfigError } from "../../relay/config.ts";

const ROOT = join(import.meta.dir, "../..");
const tmp = mkdtempSync(join(tmpdir(), "inscribe-sandbox-test-"));
afterAll(() => rmSync(tmp, { recursive: true, force: true }));

async function sh(command: string, cwd = ROOT, env: Record<string, string> = {}) {
  const p = Bun.spawn(["sh", "-c", command], { cwd, env: { ...process.env, ...env }, stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { out, err, code };
}

/**
 * Shell commands of a doc's ```sh blocks: continuation lines joined, a quoted string kept across
 * lines, trailing comments and `…` lines dropped.
 */
function docCommands(doc: string): string[] {
  const text = readFileSync(join(ROOT, "docs", doc), "utf8");
  const cmds: string[] = [];
  for (const m of text.matchAll(/```sh\n([\s\S]*?)```/g)) {
    let pending = "";
    for (const line of m[1]!.replace(/\\\n\s*/g, " ").split("\n")) {
      pending += (pending ? "\n" : "") + line;
      if ((pending.match(/'/g) ?? []).length % 2) continue; // inside a quoted string
      const c = pending.replace(/\s+#[^'\n]*$/, "").trim();
      pending = "";
      if (c && !c.startsWith("#") && !c.startsWith("…")) cmds.push(c);
    }
  }
  return cmds;
}

/** The words after `npm run <script> --`, or null when the command is not that form. */
function npmArgs(cmd: string, script: string): string[] | null {
  const m = new RegExp(`(?:^|\\s)npm run ${script} --(?:\\s+(.*))?$`).exec(cmd);
  return m
    ? (m[1] ?? "")
        .replace(/<[^>]*>/g, "X")
        .split(/\s+/)
        .filter(Boolean)
    : null;
}

describe("the docs’ commands", () => {
  const all = [...docCommands("inscribe.md"), ...docCommands("register.md")];

  test("every one is in a form that runs after npm install: npm run, npx bun; none needs a global bun or lumamesh-relay", () => {
    expect(all.length).toBeGreaterThan(8);
    for (const c of all) {
      expect(c).not.toMatch(/(?<!npx)(^|[\s(;])bun /);
      expect(c).not.toMatch(/(^|[\s(;])lumamesh-relay /);
      expect(npmArgs(c, "inscribe") ?? npmArgs(c, "relay") ?? (c.includes("npx bun -e") ? [] : null)).not.toBeNull();
    }
  });

  test("every documented flag is one the tools take", () => {
    for (const c of all) {
      const ins = npmArgs(c, "inscribe");
      if (ins) parseArgs({ args: ins, options: OPTIONS, allowPositionals: true, strict: true }); // throws on an unknown flag
      const rel = npmArgs(c, "relay");
      if (rel) {
        try {
          parseConfig(rel, { HOME: tmp });
        } catch (e) {
          // Placeholders (…, URL) may fail validation; an unknown flag may not.
          expect(e).toBeInstanceOf(ConfigError);
          expect((e as Error).message).not.toContain("unknown argument");
        }
      }
    }
  });

  test("the one-command sandbox dry runs work exactly as written (the second is --core-wallet-sign from the CLI)", async () => {
    const oneShot = docCommands("inscribe.md").filter((c) => c.includes("--regtest-sandbox") && /-- \S+\.md /.test(c));
    expect(oneShot).toEqual([
      "npm run inscribe -- README.md --regtest-sandbox",
      "npm run inscribe -- README.md --regtest-sandbox --core-wallet-sign --compress",
    ]);
    const before = readdirSync(ROOT);
    for (const c of oneShot) {
      const r = await sh(c);
      expect(r.err).not.toContain("inscribe:");
      expect(r.code).toBe(0);
      expect(r.out).toMatch(/^Regtest sandbox for this run: /m);
      expect(r.out).toMatch(/inscription id +[0-9a-f]{64}i0/);
      expect(r.out).toContain("Dry run: nothing was broadcast");
    }
    expect(readdirSync(ROOT)).toEqual(before); // nothing left behind in the checkout
  });

  test("`npm run relay -- address` in docs/register.md runs as written", async () => {
    const [cmd] = docCommands("register.md").filter((c) => c.startsWith("npm run relay -- address"));
    const r = await sh(cmd!, ROOT, { HOME: join(tmp, "address-home"), LUMAMESH_DATA_DIR: "" });
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^bc1p[02-9ac-hj-np-z]{58}$/m);
  });

  test("the WIF conversion in docs/register.md runs as written and gives the key’s WIF (file mode 0600)", async () => {
    const [cmd] = docCommands("register.md").filter((c) => c.includes("npx bun -e"));
    const home = join(tmp, "home");
    const work = join(tmp, "wif");
    for (const d of [join(home, ".lumamesh"), work]) Bun.spawnSync(["mkdir", "-p", d]);
    symlinkSync(join(ROOT, "node_modules"), join(work, "node_modules")); // "in a checkout", without writing into ours
    const key = new Uint8Array(32).fill(5);
    writeFileSync(join(home, ".lumamesh", "bitcoin.key"), hex.encode(key) + "\n", { mode: 0o600 });
    const r = await sh(cmd!, work, { HOME: home });
    expect(r.err).toBe("");
    expect(r.code).toBe(0);
    expect(btc.WIF(btc.NETWORK).decode(readFileSync(join(work, "relay.wif"), "utf8"))).toEqual(key);
    expect(statSync(join(work, "relay.wif")).mode & 0o777).toBe(0o600);
  });
});

describe("npm run inscribe -- --regtest-sandbox (served)", () => {
  test("prints commands that run as printed and match the docs; a broadcast is mined and on its ord server; SIGTERM stops it", async () => {
    const dir = join(tmp, "served");
    const p = Bun.spawn([process.execPath, "run", "inscribe/main.ts", "--regtest-sandbox", "--sandbox-dir", dir], {
      cwd: ROOT,
      stdout: "pipe",
      stderr: "pipe",
    });
    try {
      let banner = "";
      const reader = p.stdout.getReader();
      while (!banner.includes("Add --broadcast")) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`the sandbox exited: ${banner} ${await new Response(p.stderr).text()}`);
        banner += new TextDecoder().decode(value);
      }
      reader.releaseLock();
      const url = (name: string) => new RegExp(`^  ${name} +(http://127\\.0\\.0\\.1:\\d+)`, "m").exec(banner)![1]!;
      const [esplora, core, ord] = [url("Esplora"), url("Core RPC"), url("ord")];
      expect(statSync(join(dir, "key")).mode & 0o777).toBe(0o600);
      expect(statSync(join(dir, ".cookie")).mode & 0o777).toBe(0o600);
      const printed = banner
        .split("\n")
        .filter((l) => l.startsWith("  npm run "))
        .map((l) => l.trim());
      expect(printed).toHaveLength(3);

      // The docs show these commands for the sandbox on its usual ports and directory.
      const usual = (c: string) =>
        c
          .replaceAll(dir, ".lumamesh/sandbox")
          .replaceAll(esplora, `http://127.0.0.1:${SANDBOX_PORTS.esplora}`)
          .replaceAll(core, `http://127.0.0.1:${SANDBOX_PORTS.core}`)
          .replaceAll(ord, `http://127.0.0.1:${SANDBOX_PORTS.ord}`);
      expect(docCommands("inscribe.md")).toContain(usual(printed[0]!));
      expect(docCommands("register.md")).toContain(usual(printed[2]!));

      const [keyRun, coreRun, relayRun] = await Promise.all(printed.map((c) => sh(c)));
      for (const r of [keyRun!, coreRun!]) {
        expect(r.err).toBe("");
        expect(r.out).toContain("Dry run: nothing was broadcast");
      }
      expect(relayRun!.code).toBe(0);
      expect(relayRun!.out).toContain("Network: regtest");
      expect(relayRun!.out).toContain("Not funded yet");

      const sent = await sh(`${printed[0]} --broadcast --recovery-file ${join(dir, "rec.json")} --wait 5`);
      expect(sent.err).toBe("");
      const id = /Reveal seen by esplora: ([0-9a-f]{64}i0)/.exec(sent.out)![1]!;
      // Mined at once, so the sandbox's ord server already shows it.
      const info = await (await fetch(`${ord}/r/inscription/${id}`)).json();
      expect(info.content_type).toBe("text/markdown;charset=utf-8");
      expect(existsSync(join(dir, "rec.json"))).toBe(true);
    } finally {
      p.kill("SIGTERM");
    }
    expect(await p.exited).toBe(0);
  });

  test("it is regtest and brings its own services: other networks and backends are refused", async () => {
    const net = await sh("npm run -s inscribe -- README.md --regtest-sandbox --network mainnet");
    expect(net.code).toBe(1);
    expect(net.err).toContain("--regtest-sandbox is regtest");
    const own = await sh("npm run -s inscribe -- README.md --regtest-sandbox --esplora http://127.0.0.1:1");
    expect(own.code).toBe(1);
    expect(own.err).toContain("leave out --esplora");
  });
});
