/**
 * A client library loaded on first use, once, and loaded again after a
 * failure: a failed import must not stay cached (the package may be
 * installed, or the network back, by the next connect).
 *
 * Internal to the adapters; not part of the public surface.
 *
 * @module
 */

/**
 * Wraps a loader so that concurrent callers share one load, a success is
 * kept, and a failure is forgotten as soon as it happens.
 *
 * @typeParam T What the loader resolves to.
 * @param load Loads the library (a dynamic `import()` and its checks).
 * @returns A function that resolves to the loaded library.
 */
export function lazyLoader<T>(load: () => Promise<T>): () => Promise<T> {
  let loading: Promise<T> | undefined;
  return () => {
    if (loading === undefined) {
      const attempt = load();
      loading = attempt;
      // Forget a failure at once, so the next call tries again.
      attempt.catch(() => {
        if (loading === attempt) loading = undefined;
      });
    }
    return loading;
  };
}
