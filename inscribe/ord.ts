// ord.ts: a small typed client for an ord server's HTTP API (ordinals/ord src/api.rs shapes,
// routes from src/subcommand/server.rs and docs/src/inscriptions/recursion.md). Used by the
// inscribe tool to keep inscribed UTXOs out of funding, by the relay to read records, and by tests.
// Every failure is an OrdError naming the URL and the HTTP status (0 when unreachable).

export class OrdError extends Error {
  constructor(
    readonly url: string,
    readonly status: number,
    detail: string,
  ) {
    super(`ord: ${status ? `HTTP ${status}` : "unreachable"} from ${url}${detail ? `: ${detail}` : ""}`);
    this.name = "OrdError";
  }
}

/** `/r/utxo/<OUTPOINT>` (api::UtxoRecursive). `null` fields mean the server does not index them. */
export interface OrdUtxo {
  inscriptions: string[] | null;
  runes: Record<string, { amount: number | string; divisibility: number; symbol: string | null }> | null;
  sat_ranges: [number, number][] | null;
  value: number;
}

/** `/output/<OUTPOINT>` with `Accept: application/json` (api::Output). */
export interface OrdOutput extends OrdUtxo {
  address: string | null;
  confirmations?: number;
  indexed: boolean;
  outpoint: string;
  script_pubkey: string;
  spent: boolean;
  transaction: string;
}

/** `/r/inscription/<ID>` (api::InscriptionRecursive); extra fields are allowed by ord's contract. */
export interface OrdInscription {
  charms: string[];
  content_type: string | null;
  content_length: number | null;
  delegate: string | null;
  fee: number;
  height: number;
  id: string;
  number: number;
  output: string;
  sat: number | null;
  satpoint: string;
  timestamp: number;
  value: number | null;
  address: string | null;
  [k: string]: unknown;
}

/**
 * `/status` with `Accept: application/json` (ord src/templates/status.rs StatusHtml, trimmed to
 * what is read here). Older ords lack some fields; `chain` is serde kebab-case (src/chain.rs).
 */
export interface OrdStatus {
  chain: string;
  height: number | null;
  inscription_index?: boolean;
  rune_index?: boolean;
  sat_index?: boolean;
  [k: string]: unknown;
}

export interface Page {
  ids: string[];
  more: boolean;
  page: number;
}

export type FetchLike = (url: string, init?: RequestInit) => Promise<Response>;

export class OrdClient {
  readonly base: string;
  constructor(
    base: string,
    private readonly fetchImpl: FetchLike = fetch,
    private readonly timeoutMs = 15_000,
  ) {
    this.base = base.replace(/\/+$/, "");
  }

  /** Any answer at all; only an unreachable server throws. */
  private async fetchRaw(path: string, accept: string): Promise<Response> {
    try {
      return await this.fetchImpl(this.base + path, { headers: { Accept: accept }, signal: AbortSignal.timeout(this.timeoutMs) });
    } catch (e) {
      throw new OrdError(this.base + path, 0, (e as Error).message);
    }
  }

  private async get(path: string, accept = "application/json", allow404 = false): Promise<Response | null> {
    const url = this.base + path;
    const res = await this.fetchRaw(path, accept);
    if (allow404 && res.status === 404) return null;
    if (!res.ok) throw new OrdError(url, res.status, (await res.text().catch(() => "")).slice(0, 200));
    return res;
  }

  private async json<T>(path: string, allow404 = false): Promise<T | null> {
    const res = await this.get(path, "application/json", allow404);
    if (!res) return null;
    const text = await res.text();
    try {
      return JSON.parse(text) as T;
    } catch {
      throw new OrdError(this.base + path, res.status, `not JSON: ${text.slice(0, 80)}`);
    }
  }

  async inscription(id: string): Promise<OrdInscription> {
    return (await this.json<OrdInscription>(`/r/inscription/${id}`))!;
  }

  async content(id: string): Promise<{ contentType: string | null; body: Uint8Array }> {
    const res = (await this.get(`/content/${id}`, "*/*"))!;
    return { contentType: res.headers.get("content-type"), body: new Uint8Array(await res.arrayBuffer()) };
  }

  /** `/r/sat/<SAT>/at/<INDEX>`: the id at that index (-1 = newest), or null. */
  async satAt(sat: bigint | number, index = -1): Promise<string | null> {
    const r = await this.json<{ id: string | null }>(`/r/sat/${sat}/at/${index}`);
    return r!.id;
  }

  async satInscriptions(sat: bigint | number, page = 0): Promise<Page> {
    return (await this.json<Page>(`/r/sat/${sat}/${page}`))!;
  }

  async utxo(outpoint: string): Promise<OrdUtxo> {
    return (await this.json<OrdUtxo>(`/r/utxo/${outpoint}`))!;
  }

  async output(outpoint: string): Promise<OrdOutput> {
    return (await this.json<OrdOutput>(`/output/${outpoint}`))!;
  }

  async children(id: string, page = 0): Promise<Page> {
    return (await this.json<Page>(`/r/children/${id}/${page}`))!;
  }

  /**
   * The server's `/status` JSON, or null where it has none to give (404 on servers without the
   * route, 406 "JSON API disabled", an HTML page, a body without `chain`). Unreachable still throws.
   */
  async status(): Promise<OrdStatus | null> {
    const res = await this.fetchRaw("/status", "application/json");
    const text = await res.text().catch(() => "");
    if (!res.ok) return null;
    try {
      const j = JSON.parse(text) as OrdStatus;
      return j && typeof j === "object" && typeof j.chain === "string" ? j : null;
    } catch {
      return null;
    }
  }

  async blockheight(): Promise<number> {
    return (await this.json<number>("/r/blockheight"))!;
  }

  /** `/sat/<SAT>` JSON (api::Sat): its satpoint when the server indexes sats and the sat exists. */
  async satpoint(sat: bigint | number): Promise<string | null> {
    const r = await this.json<{ satpoint: string | null }>(`/sat/${sat}`, true);
    return r?.satpoint ?? null;
  }

  /**
   * Where sat `sat` is now: `{ outpoint, offset }`, from `/sat/<SAT>` or, failing that, from the
   * newest inscription on it. Cross-checked against `/r/utxo/<OUTPOINT>` sat ranges when present.
   */
  async locateSat(sat: bigint): Promise<{ outpoint: string; offset: bigint; utxo: OrdUtxo }> {
    let sp = await this.satpoint(sat).catch(() => null);
    if (!sp) {
      const id = await this.satAt(sat, -1);
      if (!id) throw new OrdError(`${this.base}/r/sat/${sat}/at/-1`, 404, `sat ${sat} not found (does the server index sats?)`);
      sp = (await this.inscription(id)).satpoint;
    }
    const m = /^([0-9a-f]{64}:\d+):(\d+)$/.exec(sp);
    if (!m) throw new OrdError(this.base, 200, `bad satpoint ${sp}`);
    const outpoint = m[1]!;
    let offset = BigInt(m[2]!);
    const utxo = await this.utxo(outpoint);
    if (utxo.sat_ranges) {
      let o = 0n;
      let found = false;
      for (const [a, b] of utxo.sat_ranges) {
        if (sat >= BigInt(a) && sat < BigInt(b)) {
          o += sat - BigInt(a);
          found = true;
          break;
        }
        o += BigInt(b) - BigInt(a);
      }
      if (!found) throw new OrdError(`${this.base}/r/utxo/${outpoint}`, 200, `sat ${sat} is not in ${outpoint}`);
      offset = o;
    }
    return { outpoint, offset, utxo };
  }
}
