// Reading a child process's output while it runs: wait for a line that says it is ready, keep the
// pipe drained afterwards (a full pipe would block the child) and keep the recent text for errors.

const KEEP = 64 * 1024;

export interface Output {
  /** The text seen so far (the last 64 KB). */
  text(): string;
  /** Resolves with the first match of `re` in the text (past or future); rejects after `ms` or at EOF. */
  match(re: RegExp, ms?: number): Promise<RegExpExecArray>;
  /** Resolves when the stream ends. */
  readonly done: Promise<void>;
}

export function watchOutput(stream: ReadableStream<Uint8Array>): Output {
  let buf = "";
  let ended = false;
  const waiters = new Set<() => void>();
  const wake = () => {
    for (const w of [...waiters]) w();
  };
  const done = (async () => {
    const dec = new TextDecoder();
    try {
      for await (const chunk of stream) {
        buf += dec.decode(chunk, { stream: true });
        if (buf.length > KEEP) buf = buf.slice(-KEEP);
        wake();
      }
    } catch {
      // the child went away mid-read: treat as EOF
    }
    ended = true;
    wake();
  })();

  const match = (re: RegExp, ms = 10_000) =>
    new Promise<RegExpExecArray>((resolve, reject) => {
      const check = () => {
        const m = re.exec(buf);
        if (m) return finish(() => resolve(m));
        if (ended) finish(() => reject(new Error(`output ended without ${re}; output:\n${buf.slice(-4000)}`)));
      };
      const timer = setTimeout(() => finish(() => reject(new Error(`no ${re} within ${ms} ms; output:\n${buf.slice(-4000)}`))), ms);
      const finish = (f: () => void) => {
        clearTimeout(timer);
        waiters.delete(check);
        f();
      };
      waiters.add(check);
      check();
    });

  return { text: () => buf, match, done };
}
