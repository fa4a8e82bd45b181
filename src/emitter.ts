// The smallest typed event emitter: on / off / emit over a map of event name → argument tuple.
// A listener that throws does not stop the others: its error is rethrown in a microtask, so it
// still reaches window.onerror / the console, the way EventTarget reports listener errors.

export type Emitter<M extends Record<string, unknown[]>> = {
  on<K extends keyof M>(type: K, fn: (...args: M[K]) => void): void;
  off<K extends keyof M>(type: K, fn: (...args: M[K]) => void): void;
  emit<K extends keyof M>(type: K, ...args: M[K]): void;
};

export const createEmitter = <M extends Record<string, unknown[]>>(): Emitter<M> => {
  const l: { [K in keyof M]?: Set<(...args: M[K]) => void> } = {};
  return {
    on: (t, f) => void (l[t] ??= new Set()).add(f),
    off: (t, f) => void l[t]?.delete(f),
    // Copy first: listeners added or removed during an emit take effect from the next emit.
    emit: (t, ...a) => {
      for (const f of [...(l[t] ?? [])])
        try {
          f(...a);
        } catch (e) {
          queueMicrotask(() => {
            throw e;
          });
        }
    },
  };
};
