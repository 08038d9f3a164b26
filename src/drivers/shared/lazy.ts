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

/** An npm client library an adapter may import itself, or take from the application. */
export interface NpmClient<T> {
  /** Its name in messages: `"postgres.js"`. */
  readonly client: string;
  /** The npm package: `"postgres"`. */
  readonly pkg: string;
  /** The adapter's builder: `"postgresjs"`. */
  readonly builder: string;
  /** The builder's option that passes the library: `"postgres"`. */
  readonly option: string;
  /** What that option must be, for messages: `"postgres.js's default export (a function)"`. */
  readonly expected: string;
  /** What a module that is not the library lacks, for messages: `"has no default export"`. */
  readonly lacks: string;
  /** Imports the package (a literal `import("postgres")`, which tools can follow). */
  readonly importIt: () => Promise<Record<string, unknown>>;
  /** Where the library is in the imported module. */
  readonly inModule: (mod: Record<string, unknown>) => unknown;
  /** Whether a value is the library. */
  readonly isLibrary: (value: unknown) => value is T;
}

/**
 * The client library of an adapter: the one the application passed, or the
 * npm package imported on first use (see {@linkcode lazyLoader}).
 *
 * @typeParam T The library.
 * @param given What the application passed, if anything.
 * @param npm The package, and how to tell the library.
 * @returns A function that resolves to the library.
 * @throws {TypeError} `given` is not the library.
 */
export function clientLoader<T>(given: unknown, npm: NpmClient<T>): () => Promise<T> {
  if (given !== undefined) {
    if (!npm.isLibrary(given)) {
      throw new TypeError(
        `Cannot build the ${npm.client} driver: "${npm.option}" must be ${npm.expected}, received ${typeof given}`,
      );
    }
    const ready = Promise.resolve(given);
    return () => ready;
  }
  return lazyLoader(async () => {
    let mod: Record<string, unknown>;
    try {
      mod = await npm.importIt();
    } catch (err) {
      throw new Error(
        `Cannot load ${npm.client}: install the npm package "${npm.pkg}" or pass it as ${npm.builder}({ ${npm.option} })`,
        { cause: err },
      );
    }
    const lib = npm.inModule(mod);
    if (!npm.isLibrary(lib)) {
      throw new TypeError(`Cannot load ${npm.client}: the module "${npm.pkg}" ${npm.lacks}`);
    }
    return lib;
  });
}
