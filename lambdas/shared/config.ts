/** Raised at start-up when a required environment variable is missing or malformed. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

/**
 * Reads the named environment variables once and fails fast, naming every missing one.
 *
 * @example
 * const cfg = readConfig(['ARX_INVENTORY_TABLE', 'ARX_EVENT_BUS']);
 * cfg.ARX_INVENTORY_TABLE; // string
 */
export function readConfig<K extends string>(
  names: readonly K[],
  env: NodeJS.ProcessEnv = process.env,
): Readonly<Record<K, string>> {
  const missing = names.filter((n) => !env[n]);
  if (missing.length > 0) {
    throw new ConfigError(`missing required environment variable(s): ${missing.join(', ')}`);
  }
  return Object.freeze(Object.fromEntries(names.map((n) => [n, env[n] as string]))) as Record<K, string>;
}

/** Optional variable with a default; numbers are parsed and checked. */
export function optionalNumber(name: string, fallback: number, env: NodeJS.ProcessEnv = process.env): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n)) throw new ConfigError(`environment variable ${name} must be a number, got "${raw}"`);
  return n;
}

/**
 * Memoises a config reader so it runs once per process, on first use — after the local runtime
 * or the Lambda environment has set the variables.
 */
export function lazyConfig<T>(read: () => T): () => T {
  let value: T | undefined;
  return () => (value ??= read());
}
