// connect.ts: reaching the outside services from options, shared by `npm run inscribe` and
// `lumamesh-relay register`: the backend (Esplora, or Bitcoin Core with its cookie file or a user and
// a password variable), and the check that backend and ord server are on the network asked for.
import { readFileSync } from "node:fs";
import { CoreRpcBackend, EsploraBackend, type Backend } from "./fund.ts";
import { chainOfOrd, type NetworkName } from "./networks.ts";
import { OrdError, type OrdClient, type OrdStatus } from "./ord.ts";
import { InscribeError } from "./tx.ts";

export interface BackendOptions {
  esplora?: string | undefined;
  coreRpc?: string | undefined;
  coreUser?: string | undefined;
  /** Name of the environment variable holding the RPC password (never the password itself). */
  corePasswordEnv?: string | undefined;
  coreCookie?: string | undefined;
  coreWallet?: string | undefined;
}

/**
 * Core's `.cookie` file: `__cookie__:<password>`, one line (Core src/httprpc.cpp GenerateAuthCookie).
 * Split at the first colon; the contents are never put in an error.
 */
export function readCoreCookie(path: string): { user: string; password: string } {
  let text: string;
  try {
    text = readFileSync(path, "utf8").trim();
  } catch (e) {
    throw new InscribeError(
      "bad-input",
      `cannot read the Core cookie file ${path}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`,
    );
  }
  const i = text.indexOf(":");
  if (i <= 0 || i === text.length - 1 || /[\r\n]/.test(text))
    throw new InscribeError("bad-input", `${path} is not a Core cookie file (user:password on one line; contents not shown)`);
  return { user: text.slice(0, i), password: text.slice(i + 1) };
}

/** One of Esplora or Core RPC; Core authenticates with the cookie file, or a user and a password variable. */
export function backendFromOptions(o: BackendOptions, env: Record<string, string | undefined> = process.env): Backend {
  if (o.esplora && o.coreRpc) throw new InscribeError("bad-input", "choose one of --esplora and --core-rpc");
  if (o.esplora) return new EsploraBackend(o.esplora);
  if (!o.coreRpc) throw new InscribeError("bad-input", "a backend is needed: --esplora URL or --core-rpc URL");
  let auth: { user: string; password: string } | null = null;
  if (o.coreCookie) auth = readCoreCookie(o.coreCookie);
  else if (o.coreUser) {
    const pw = o.corePasswordEnv ? env[o.corePasswordEnv] : undefined;
    if (pw === undefined) throw new InscribeError("bad-input", "--core-user needs --core-password-env VAR naming a set variable");
    auth = { user: o.coreUser, password: pw };
  }
  return new CoreRpcBackend(o.coreRpc, auth, o.coreWallet ?? null);
}

/**
 * How far ord's tip may run ahead of the backend's before they are taken for different chains
 * (two nodes of one network can disagree by a block or two for a while).
 */
export const ORD_AHEAD_SLACK = 6;

/**
 * Refuses (`wrong-network`) when the backend or the ord server follows another chain than
 * `network`. The backend names its chain (Core: getblockchaininfo; Esplora: the hash of block 0).
 * ord names it in its `/status` JSON; an ord without one (older, JSON API disabled, the dev server)
 * is only checked by height: its tip cannot be past the backend's on the same chain. A lagging ord
 * is no danger: it answers 404 for outputs it has not indexed, and those are never spent.
 */
export async function checkNetwork(network: NetworkName, backend: Backend, ord?: OrdClient): Promise<void> {
  const b = await backend.chain();
  if (b.chain !== network)
    throw new InscribeError(
      "wrong-network",
      `--network ${network}, but the ${backend.name} backend at ${backend.url} is on ${b.chain ?? "a chain this tool does not know"} (${b.evidence})`,
    );
  if (!ord) return;
  let status: OrdStatus | null, ordHeight: number;
  try {
    status = await ord.status();
    if (status) {
      const c = chainOfOrd(status.chain);
      if (c !== network)
        throw new InscribeError(
          "wrong-network",
          `--network ${network}, but the ord server at ${ord.base} is on ${c ?? "a chain this tool does not know"} (/status says chain ${JSON.stringify(status.chain).slice(0, 40)})`,
        );
    }
    ordHeight = typeof status?.height === "number" ? status.height : await ord.blockheight();
  } catch (e) {
    if (e instanceof OrdError) throw new InscribeError("unchecked", `cannot ask the ord server which chain it follows: ${e.message}`);
    throw e;
  }
  const tip = await backend.tipHeight();
  if (ordHeight > tip + ORD_AHEAD_SLACK)
    throw new InscribeError(
      "wrong-network",
      `the ord server at ${ord.base} is at block ${ordHeight}, past the ${backend.name} backend's tip ${tip}: they do not follow the same ${network} chain`,
    );
}
