// install.sh test harness: a release directory served over HTTP on loopback, a fake root
// (LUMAMESH_ROOT) per test, and stand-ins for the commands that would change the real machine
// (systemctl, useradd, userdel, id for the service user, optionally uname), each appending its argv
// to a log. Everything else install.sh runs (curl, sha256sum, mktemp, the relay itself) is real.
import { mkdtempSync, mkdirSync, writeFileSync, readFileSync, existsSync, chmodSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

export const INSTALL_SH = join(import.meta.dir, "..", "..", "install.sh");

/** Serves files from `dir` (changeable at any time) on 127.0.0.1; 404 for anything else. */
export function serveDir(initial: string) {
  let dir = initial;
  const requests: string[] = [];
  const server = Bun.serve({
    hostname: "127.0.0.1",
    port: 0,
    fetch(req) {
      const name = new URL(req.url).pathname.slice(1);
      requests.push(name);
      const path = join(dir, name);
      if (!/^[\w.-]+$/.test(name) || !existsSync(path)) return new Response("not found\n", { status: 404 });
      return new Response(Bun.file(path));
    },
  });
  return {
    url: `http://127.0.0.1:${server.port}`,
    requests,
    setDir(d: string) {
      dir = d;
    },
    stop() {
      server.stop(true);
    },
  };
}

export interface Box {
  /** LUMAMESH_ROOT */
  root: string;
  /** TMPDIR for install.sh: must be empty again after every run */
  tmp: string;
  bin: string;
  log: string;
  /** What the stand-in `id` answers for the lumamesh user. */
  uid: number;
  gid: number;
  /** Lines the stand-ins logged, e.g. "systemctl enable --now lumamesh-relay". */
  calls(): string[];
  path(p: string): string;
}

const sh = (body: string) => "#!/bin/sh\n" + body + "\n";

// Every box holds a ~100 MB relay once installed: remove them all when the file's tests are done.
const boxes: string[] = [];
export function removeBoxes() {
  for (const b of boxes.splice(0)) rmSync(b, { recursive: true, force: true });
}

/** A fresh fake machine. `systemd`: create <root>/run/systemd/system, as a booted systemd has. */
export function makeBox(opts: { systemd?: boolean; uname?: string } = {}): Box {
  const base = mkdtempSync(join(tmpdir(), "lumamesh-install-"));
  boxes.push(base);
  const root = join(base, "root"),
    tmp = join(base, "tmp"),
    bin = join(base, "bin"),
    state = join(base, "state"),
    log = join(base, "calls.log");
  for (const d of [root, tmp, bin, state]) mkdirSync(d, { recursive: true });
  if (opts.systemd) mkdirSync(join(root, "run/systemd/system"), { recursive: true });
  writeFileSync(log, "");
  // As root, a made-up id, so a test can see the state directory really changed hands;
  // otherwise our own (chown to another id needs root).
  const root0 = process.getuid?.() === 0;
  const uid = root0 ? 48840 : (process.getuid?.() ?? 0),
    gid = root0 ? 48841 : (process.getgid?.() ?? 0);
  const rec = (name: string) => `echo "${name} $*" >> '${log}'`;
  const tools: Record<string, string> = {
    systemctl: rec("systemctl"),
    useradd: rec("useradd") + `\ntouch '${state}/user'`,
    userdel: rec("userdel") + `\nrm -f '${state}/user'`,
    // `id -u lumamesh` / `id -g lumamesh` answer from the stand-in user database (as the test's own
    // ids, so chown works unprivileged); anything else goes to the real id.
    id: `case "$*" in "-u lumamesh"|"-g lumamesh") ${rec("id")}; [ -f '${state}/user' ] || { echo "id: 'lumamesh': no such user" >&2; exit 1; }; [ "$1" = -u ] && echo ${uid} || echo ${gid} ;; *) exec /usr/bin/id "$@" ;; esac`,
  };
  if (opts.uname) tools.uname = `case "$1" in -m) echo '${opts.uname}' ;; *) exec /bin/uname "$@" ;; esac`;
  for (const [name, body] of Object.entries(tools)) {
    writeFileSync(join(bin, name), sh(body));
    chmodSync(join(bin, name), 0o755);
  }
  return {
    root,
    tmp,
    bin,
    log,
    uid,
    gid,
    calls: () => readFileSync(log, "utf8").split("\n").filter(Boolean),
    path: (p: string) => join(root, p),
  };
}

/** A PATH with every command of the real one except `hide` (a directory of symlinks), so a test
 *  can run install.sh on a machine without curl, say. The stand-ins still come first. */
export function pathWithout(box: Box, hide: string[]): string {
  const dir = join(box.bin, "..", "path-without");
  mkdirSync(dir, { recursive: true });
  const seen = new Set(hide); // first on PATH wins, as in the shell
  for (const d of (process.env.PATH ?? "").split(":").filter(Boolean)) {
    let names: string[] = [];
    try {
      names = readdirSync(d);
    } catch {
      continue;
    }
    for (const n of names) if (!seen.has(n)) seen.add(n), symlinkSync(join(d, n), join(dir, n));
  }
  return `${box.bin}:${dir}`;
}

export interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs install.sh against `box` and the server at `baseUrl`: as a file (`sh install.sh ARGS`), or
 *  piped (`… | sh -s -- ARGS`), the way `curl -sSL <url> | sh -s -- ARGS` runs it. */
export async function runInstall(
  box: Box,
  baseUrl: string,
  args: string[],
  opts: { piped?: boolean; env?: Record<string, string> } = {},
): Promise<Run> {
  const env = {
    ...process.env,
    PATH: `${box.bin}:${process.env.PATH}`,
    LUMAMESH_ROOT: box.root,
    LUMAMESH_BASE_URL: baseUrl,
    TMPDIR: box.tmp,
    ...opts.env,
  };
  // Async spawn: the HTTP server answering install.sh lives in this same process.
  const p = opts.piped
    ? Bun.spawn(["sh", "-s", "--", ...args], { stdin: new Blob([readFileSync(INSTALL_SH)]), stdout: "pipe", stderr: "pipe", env })
    : Bun.spawn(["sh", INSTALL_SH, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe", env });
  const [stdout, stderr, code] = await Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]);
  return { code, stdout, stderr };
}

/** The JSON record install.sh prints after "Relay record:". */
export function printedRecord(stdout: string): { addr: string; fp: string; id: string } {
  const m = /^Relay record:\n(\{\n[\s\S]*?\n\})$/m.exec(stdout);
  if (!m) throw new Error("no record block in:\n" + stdout);
  return JSON.parse(m[1]);
}

export const isEmptyDir = (d: string) => readdirSync(d).length === 0;
