// Waiting in tests: check every 100 ms until `ok()` is truthy, or throw after `ms` with what
// `why()` says about the state at that moment.
export async function poll(ok: () => Promise<unknown>, ms: number, why: () => Promise<string>): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await ok()) return;
    await Bun.sleep(100);
  }
  throw new Error(`${await why()} (waited ${ms} ms)`);
}
