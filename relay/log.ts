// The relay's logger: one JSON line per event on stdout, levels, addresses redacted unless asked for.

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
  const write = opts.write ?? ((l: string) => process.stdout.write(l + "\n"));
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
