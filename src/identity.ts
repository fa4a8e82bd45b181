// The page's DTLS certificate, whose fingerprint's first 8 bytes are its peer id: fresh for each
// connect(), or (identity "persistent") kept in IndexedDB so the id survives reloads. A kept identity
// is held by one tab at a time (a Web Lock, until the page goes away): a second tab, and a page with no
// storage (a sandboxed inscription's opaque origin, storage blocked), get a fresh one, silently.

/** An IndexedDB request as a promise (rejects with the error event: every failure means "fresh"). */
const req = <T>(r: IDBRequest<T>) => new Promise<T>((ok, no) => ((r.onsuccess = () => ok(r.result)), (r.onerror = no)));
/** Browsers cap a certificate's lifetime at a year or so; a kept one is replaced a week before it ends. */
const YEAR = 31536e6,
  WEEK = 6048e5;

export async function certificate(PC: typeof RTCPeerConnection, keep?: boolean): Promise<RTCCertificate | undefined> {
  const make = () => PC.generateCertificate?.({ name: "ECDSA", namedCurve: "P-256", expires: YEAR } as EcKeyGenParams);
  try {
    // The lock is never released here: it ends with the page. Opaque origins reject the request.
    if (
      !keep ||
      !(await new Promise((got, no) =>
        navigator.locks.request("lumamesh", { ifAvailable: true }, (l) => (got(l), l && new Promise(() => {}))).catch(no),
      ))
    )
      return make();
    const o = indexedDB.open("lumamesh");
    o.onupgradeneeded = () => o.result.createObjectStore("id");
    const db = await req(o),
      store = () => db.transaction("id", "readwrite").objectStore("id");
    let c = (await req(store().get(0))) as RTCCertificate | undefined;
    // Made before its transaction opens: a transaction left waiting on generateCertificate ends unused.
    if (!(c && c.expires - Date.now() > WEEK)) (c = await make()), await req(store().put(c, 0));
    return c;
  } catch {
    return make();
  }
}
