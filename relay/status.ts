// `lumamesh-relay status`: what the relay serving from a data dir learned, read from the
// serving.json it keeps up to date (relay/serving.ts), for a person to read.
import type { Serving } from "./serving.ts";

const hostPort = (ip: string, port: number) => (ip.includes(":") ? `[${ip}]` : ip) + ":" + port;

function running(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM"; // alive, another user's
  }
}

/** The status text for the relay whose serving.json is `s`. */
export function formatStatus(dir: string, s: Serving): string {
  const l = s.learned;
  const addr = hostPort(s.ip, s.publicPort ?? s.port);
  const lines = [`lumamesh-relay status (${dir})`];
  const row = (k: string, v: string) => lines.push(`  ${k.padEnd(11)}${v}`);
  if (!l) {
    row("relay", `started ${s.started}; this version wrote nothing more`);
    row("address", addr);
    return lines.join("\n") + "\n";
  }
  row("relay", running(l.pid) ? `running (pid ${l.pid}) since ${s.started}` : `not running (pid ${l.pid} is gone); as of ${l.updated}`);
  row("listening", `${hostPort(s.host, s.port)} UDP`);
  const from = {
    flag: "given with --public-ip",
    host: "the address it is bound to (--host)",
    relays: (() => {
      const votes = l.reports.filter((r) => r.addr === addr).length;
      return `seen by ${votes} of the ${l.reports.length} relay${l.reports.length === 1 ? "" : "s"} that answered`;
    })(),
    none: "none yet: no relay has answered (a placeholder; browsers cannot reach it)",
  }[l.source];
  row("address", `${addr}  (${from})`);
  row(
    "reachable",
    l.confirmed
      ? `confirmed: ${l.confirmedBy.length ? l.confirmedBy.join(", ") : "another relay"} reached it at ${addr}`
      : `unconfirmed: no relay has reached it at ${addr} yet${l.source === "none" ? "" : ` (is UDP ${s.publicPort ?? s.port} open to the internet, or forwarded to this machine?)`}`,
  );
  const others = l.reports.filter((r) => r.addr !== addr);
  if (others.length) row("", `some relays saw it elsewhere: ${others.map((r) => `${r.reporter} saw ${r.addr}`).join("; ")}`);
  row("relays", `${l.links} linked, ${l.vouched} vouched for (reached), ${l.known} known, ${l.pending} waiting to be reached`);
  row(
    "found via",
    l.sources.length
      ? l.sources
          .map((x) => `${x.source}: ${x.relays !== undefined ? `${x.relays} relay${x.relays === 1 ? "" : "s"}` : x.reason}`)
          .join("; ")
      : "(still looking)",
  );
  return lines.join("\n") + "\n";
}
