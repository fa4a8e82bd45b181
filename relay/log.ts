// The relay's logger: one JSON line per event on stdout, levels, addresses redacted unless asked for.
// A stdout that goes away (the terminal closed, `relay | head`, a log collector restarted) costs
// the log, not the relay: the first failed write says so once on stderr and logging stops.

export type Level = "debug" | "info" | "warn" | "error" | "silent";
const RANK: Record<Level, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 99 };
export const LEVELS = Object.keys(RANK) as Level[];

export interface Logger {
  (level: Exclude<Level, "silent">, event: string, fields?: Record<string, unknown>): void;
  addr(address: string, port?: number): string;
  /** Whether events of this level are written (callers skip building fields that would be dropped). */
  on?(level: Exclude<Level, "silent">): boolean;
}

export function createLogger(level: Level, opts: { showAddresses?: boolean; write?: (line: string) => void } = {}): Logger {
  const min = RANK[level];
  const write = opts.write ?? (toStdout ??= stdoutLines());
  const log = ((lvl, event, fields) => {
    if (RANK[lvl] < min) return;
    write(JSON.stringify({ t: new Date().toISOString(), level: lvl, event, ...fields }));
  }) as Logger;
  log.on = (lvl) => RANK[lvl] >= min;
  // Redaction keeps the port (useful to tell sessions apart) and hides the host.
  log.addr = (address, port) =>
    (opts.showAddresses ? address : address.includes(":") ? "[v6]" : "x.x.x.x") + (port === undefined ? "" : ":" + port);
  return log;
}

/** One writer for every logger of the process (one 'error' listener on stdout, one notice). */
let toStdout: ((line: string) => void) | undefined;

/** Lines to stdout until a write fails (EPIPE, EBADF: thrown, or emitted later as an 'error'); then
 *  one line on stderr, if that still works, and nothing more. */
function stdoutLines(): (line: string) => void {
  let gone = false;
  const lost = (e: unknown) => {
    if (gone) return;
    gone = true;
    process.stderr.on("error", () => {}); // a stderr gone too must not take the relay down either
    try {
      process.stderr.write(
        `lumamesh-relay: stdout failed (${(e as { code?: string })?.code ?? String(e)}): logging stopped, the relay goes on\n`,
      );
    } catch {}
  };
  process.stdout.on("error", lost);
  return (line) => {
    if (gone) return;
    try {
      process.stdout.write(line + "\n");
    } catch (e) {
      lost(e);
    }
  };
}
