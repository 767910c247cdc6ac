/**
 * The settings registry: every environment variable a Lambda handler (or the PDP extension under
 * `layers/`) reads, with its type, default, owner and meaning. Code reads configuration only
 * through the accessors here; `test/infra/settings.test.ts` checks the registry against what `lib/`
 * sets on each function (only what its handler declares, every required one), and README's configuration table is generated from it (`npm run settings:readme`).
 *
 * Where values come from: in Lambda, `process.env`. In the local runtime, one process hosts every
 * function, so each invocation runs inside {@link withEnvironment} with only its own function's
 * environment (from the synthesised template); the accessors read that scope when one is active.
 * Memoised wiring ({@link perEnvironment}) is built once per environment, never shared between
 * functions. AWS_* variables the SDK and the Lambda runtime read themselves stay process-wide and
 * are not listed.
 *
 * @example
 * // a handler module: fail at INIT when the function lacks a variable
 * export const settings = handlerSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
 * // wiring, built once per environment
 * const store = perEnvironment(() => new DynamoStore(setting('ARX_CONTROL_TABLE')));
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { REVOCATION_CACHE_MS } from './ports.js';

/** Raised when a required environment variable is missing or malformed (at INIT in Lambda). */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
}

type SettingType = 'string' | 'url' | 'number' | 'json' | 'enum';

/** One environment variable. */
export interface SettingSpec {
  readonly type: SettingType;
  /** Allowed values (`enum`). */
  readonly values?: readonly string[];
  /** No default: a function whose handler reads it must have it set. */
  readonly required?: true;
  /** Used when the variable is unset or empty. */
  readonly default?: string | number;
  /** Inclusive bounds (`number`). */
  readonly min?: number;
  readonly max?: number;
  /** Who sets it: the construct/method in `lib/`, or `operator` for knobs no construct sets. */
  readonly owner: string;
  /** Who reads it: `lambda` (handlers), `extension` (the PDP layer), or the library/runtime that does. */
  readonly reader: 'lambda' | 'extension' | 'lambda+extension' | 'powertools' | 'node' | 'local runtime';
  readonly description: string;
}

const resource = (name: string, what: string) =>
  ({
    type: 'string',
    required: true,
    owner: `topology \`uses.${name}\` (lib/bindings.ts)`,
    reader: 'lambda',
    description: what,
  }) as const;
const idp = (description: string) =>
  ({
    type: 'string',
    required: true,
    owner: 'ArxApi (lib/api.ts, `idp` prop)',
    reader: 'lambda',
    description,
  }) as const;

/** Every variable, by name. Keep the entries sorted by group; README's table follows this order. */
export const SETTINGS = {
  // Resources bound by `uses` (RESOURCE_ENV): the IAM grant and the variable are set together.
  ARX_INVENTORY_TABLE: resource('inventoryTable', 'DynamoDB inventory table (agents, versions).'),
  ARX_CONTROL_TABLE: resource('controlTable', 'DynamoDB control table (actions, approvals, keys, outbox, registries).'),
  ARX_REVOCATION_TABLE: {
    ...resource('revocationTable', 'DynamoDB revocation list (DRL) every PDP reads.'),
    reader: 'lambda+extension',
  },
  ARX_AUDIT_TABLE: resource('auditTable', 'DynamoDB audit event table.'),
  ARX_TRACES_TABLE: resource('tracesTable', 'DynamoDB spans, usage and budgets table.'),
  ARX_AUDIT_BUCKET: resource('auditBucket', 'S3 Object Lock bucket for sealed audit blocks and attestations.'),
  ARX_BUNDLE_BUCKET: { ...resource('bundleBucket', 'S3 bucket of signed policy bundles.'), reader: 'lambda+extension' },
  ARX_ARTIFACT_BUCKET: resource('artifactBucket', 'S3 bucket for compliance packages and cold spans.'),
  ARX_DATA_KEY_ARN: resource('dataKey', 'KMS symmetric key for envelope encryption of payloads and secrets.'),
  ARX_SIGNING_KEY_ARN: resource('signingKey', 'KMS asymmetric key: the initial tenant signing key.'),
  ARX_EVENT_BUS: resource('bus', 'EventBridge bus name for ARX events.'),
  ARX_TERMINATION_STATE_MACHINE_ARN: resource('terminationStateMachine', 'Step Functions kill-switch saga.'),

  // Human and agent authentication.
  ARX_IDP_ISSUER: idp('OIDC issuer of human tokens.'),
  ARX_IDP_AUDIENCE: idp('Audience human tokens must carry.'),
  ARX_IDP_JWKS_URL: { ...idp('JWKS URL of the IdP.'), type: 'url' },
  ARX_IDP_TENANT_CLAIM: idp("Claim naming the caller's tenant."),
  ARX_IDP_ROLES_CLAIM: idp("Claim listing the caller's ARX roles."),
  ARX_SVID_ISSUER_BASE: {
    type: 'url',
    required: true,
    owner: "ArxApi (lib/api.ts) on the functions that read it (identity, the authorizer); the extension's operator",
    reader: 'lambda+extension',
    description: 'Issuer base of ARX SVIDs (`<base>/tenants/<t>`); the API URL unless `svidIssuerBase` is set.',
  },
  ARX_SVID_TTL_SECONDS: {
    type: 'number',
    default: 900,
    min: 1,
    owner: 'operator',
    reader: 'lambda',
    description: 'Lifetime of issued SVIDs (capped at 3600 s).',
  },
  ARX_REFRESH_TOKEN_TTL_SECONDS: {
    type: 'number',
    default: 2_592_000,
    min: 60,
    owner: 'operator',
    reader: 'lambda',
    description:
      "Absolute lifetime of an agent's refresh tokens, counted from its bootstrap exchange (default 30 days); rotation never extends it.",
  },
  ARX_REFRESH_GRACE_SECONDS: {
    type: 'number',
    default: 30,
    min: 0,
    max: 300,
    owner: 'operator',
    reader: 'lambda',
    description:
      'Seconds a just-spent refresh token is accepted once more (a lost response retried), for a fresh pair of its family; later reuse revokes the family. 0: off.',
  },
  ARX_REFRESH_SPENT_RETENTION_SECONDS: {
    type: 'number',
    default: 86_400,
    min: 300,
    owner: 'operator',
    reader: 'lambda',
    description:
      'How long a spent refresh token is kept (DynamoDB TTL) so that presenting it again is detected as reuse and revokes its family; after that it is deleted and merely unknown.',
  },
  ARX_MAX_TOKEN_TTL_S: {
    type: 'number',
    default: 3600,
    min: 1,
    owner: 'operator',
    reader: 'lambda',
    description: 'Longest token lifetime the kill switch waits out before a termination is complete.',
  },
  ARX_ORPHAN_GRACE_SECONDS: {
    type: 'number',
    default: 7 * 24 * 3600,
    min: 0,
    owner: 'operator',
    reader: 'lambda+extension',
    description: 'How long an agent without a live owner keeps working before it is a forbid.',
  },

  // Knobs set by constructs.
  ARX_PUBLIC_API_URL: {
    type: 'url',
    owner: 'ArxApi (lib/api.ts) on the functions that read it',
    reader: 'lambda',
    description: 'Public API URL, for links in approvals and compliance packages.',
  },
  ARX_SECRET_PREFIX: {
    type: 'string',
    default: 'arx/',
    owner: 'Actions.grantSecrets (lib/actions.ts, `secretPrefix` prop)',
    reader: 'lambda',
    description: 'Secrets Manager name prefix of connector and channel secrets (the IAM grant is scoped to it).',
  },
  ARX_TSA_URL: {
    type: 'url',
    owner: 'Audit (lib/audit.ts, `tsaUrl` prop / `arx:tsaUrl`)',
    reader: 'lambda',
    description: 'RFC 3161 timestamp authority; unset → blocks stay un-anchored.',
  },
  ARX_SEAL_INTERVAL_MS: {
    type: 'number',
    default: 5000,
    min: 1,
    owner: 'audit topology `environment`',
    reader: 'lambda',
    description: 'Sealer: pause between seal passes.',
  },
  ARX_SEAL_BUDGET_MS: {
    type: 'number',
    default: 50_000,
    min: 1,
    owner: 'audit topology `environment`',
    reader: 'lambda',
    description: 'Sealer: how long one scheduled run keeps sealing.',
  },

  // Operator knobs (no construct sets them).
  ARX_STREAMING_RETRY_BASE_MS: {
    type: 'number',
    default: 5000,
    min: 1,
    owner: 'operator',
    reader: 'lambda',
    description: 'Streaming: delay before the second delivery attempt; each further step doubles it (with jitter).',
  },
  ARX_STREAMING_RETRY_MAX_DELAY_MS: {
    type: 'number',
    default: 7_200_000,
    min: 1,
    owner: 'operator',
    reader: 'lambda',
    description: 'Streaming: longest delay between two delivery attempts.',
  },
  ARX_STREAMING_RETRY_WINDOW_S: {
    type: 'number',
    default: 86_400,
    min: 1,
    owner: 'operator',
    reader: 'lambda',
    description: 'Streaming: how long a delivery is retried before it is dead-lettered (24 h).',
  },
  ARX_STREAMING_TIMEOUT_MS: {
    type: 'number',
    default: 10_000,
    min: 100,
    max: 60_000,
    owner: 'operator',
    reader: 'lambda',
    description: 'Streaming: per-attempt HTTP timeout of a delivery.',
  },
  ARX_SLACK_API_BASE: {
    type: 'url',
    default: 'https://slack.com/api',
    owner: 'operator',
    reader: 'lambda',
    description: 'Slack Web API base (tests point it at a fake).',
  },
  ARX_SES_SENDERS: {
    type: 'json',
    owner: 'operator',
    reader: 'lambda',
    description: 'Per-tenant SES sender allowlist, `{"<tenant>": ["arx@acme.com", "@acme.com"]}`.',
  },
  ARX_EVIDENCE_MAP: {
    type: 'string',
    owner: 'operator',
    reader: 'lambda',
    description: 'Path of the evidence map; default `evidence_map.json` in the working directory.',
  },

  // The PDP extension (layers/pdp-extension), set on the agent's function by its owner.
  ARX_TENANT_ID: {
    type: 'string',
    required: true,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Tenant whose bundle the extension serves.',
  },
  ARX_AGENT_ID: {
    type: 'string',
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Bind the function to one agent; else each request carries its SVID.',
  },
  ARX_API_URL: {
    type: 'url',
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'ARX API the extension records decisions through; unset → not recorded.',
  },
  ARX_PDP_PORT: {
    type: 'number',
    default: 4790,
    min: 1,
    max: 65535,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Loopback port of the extension (its client reads it too).',
  },
  ARX_PDP_MANIFEST_POLL_MS: {
    type: 'number',
    default: 30_000,
    min: 1,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'How often the live-bundle manifest is checked.',
  },
  ARX_PDP_REVOCATION_POLL_MS: {
    type: 'number',
    default: 500,
    min: 1,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Revocation delta poll period (at most 1 s and half the revocation window).',
  },
  ARX_PDP_REVOCATION_WINDOW_MS: {
    type: 'number',
    default: REVOCATION_CACHE_MS,
    min: 1,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: "Staleness bound of the extension's revocation cache (REVOCATION_CACHE_MS, as every PDP).",
  },
  ARX_PDP_REVOCATION_RESYNC_MS: {
    type: 'number',
    default: 300_000,
    min: 1,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Full revocation resync period.',
  },
  ARX_PDP_OFFLINE_REVOCATION: {
    type: 'enum',
    values: ['forbid', 'bloom'],
    default: 'forbid',
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Revocation table unreachable beyond the window: forbid, or answer from the last Bloom filter.',
  },
  ARX_PDP_OFFLINE_BLOOM_MAX_AGE_S: {
    type: 'number',
    default: 3600,
    min: 1,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Oldest Bloom filter `bloom` mode trusts.',
  },
  ARX_PDP_SET_CACHE: {
    type: 'number',
    default: 256,
    min: 1,
    owner: 'operator (agent function)',
    reader: 'extension',
    description: 'Compiled policy-set cache entries.',
  },

  AWS_LAMBDA_RUNTIME_API: {
    type: 'string',
    required: true,
    owner: 'the Lambda service',
    reader: 'extension',
    description: 'Extensions API endpoint the extension registers with.',
  },

  // Read by libraries and tooling, set on every function by ArxFunction (lib/arx-function.ts).
  ARX_FUNCTION_NAME: {
    type: 'string',
    owner: 'ArxFunction (lib/arx-function.ts)',
    reader: 'local runtime',
    description: 'Topology name of the function (maps template functions to handlers).',
  },
  POWERTOOLS_SERVICE_NAME: {
    type: 'string',
    default: 'arx',
    owner: 'ArxFunction (lib/arx-function.ts)',
    reader: 'powertools',
    description:
      'Service name of the Powertools logger, tracer and metrics (shared/observability.ts): `arx-<capability>`.',
  },
  NODE_OPTIONS: {
    type: 'string',
    owner: 'ArxFunction (lib/arx-function.ts)',
    reader: 'node',
    description: '`--enable-source-maps`: stack traces name the TypeScript sources.',
  },
} as const satisfies Record<string, SettingSpec>;

export type SettingName = keyof typeof SETTINGS;
type Spec<K extends SettingName> = (typeof SETTINGS)[K];
type BaseValue<S> = S extends { type: 'number' }
  ? number
  : S extends { type: 'enum'; values: readonly (infer V)[] }
    ? V
    : string;
/** The value type of a setting: present when required or defaulted, else possibly undefined. */
export type SettingValue<K extends SettingName> =
  Spec<K> extends { required: true } | { default: unknown } ? BaseValue<Spec<K>> : BaseValue<Spec<K>> | undefined;

type Env = Readonly<Record<string, string | undefined>>;
const scope = new AsyncLocalStorage<Env>();

/** The environment configuration is read from: the active local-runtime scope, else `process.env`. */
export function currentEnv(): Env {
  return scope.getStore() ?? process.env;
}

/**
 * Runs `fn` (and everything it awaits or schedules) with `env` as its environment. The local
 * runtime runs each function's INIT and invocations this way, so a handler sees only the
 * variables its own function carries.
 */
export function withEnvironment<T>(env: Env, fn: () => T): T {
  return scope.run(env, fn);
}

function parse<K extends SettingName>(name: K, raw: string | undefined): SettingValue<K> {
  const spec: SettingSpec = SETTINGS[name];
  if (raw === undefined || raw === '') {
    if (spec.required) throw new ConfigError(`missing required environment variable(s): ${name}`);
    return spec.default as SettingValue<K>;
  }
  switch (spec.type) {
    case 'number': {
      const n = Number(raw);
      if (!Number.isFinite(n)) throw new ConfigError(`environment variable ${name} must be a number, got "${raw}"`);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new ConfigError(
          `environment variable ${name} must be within [${spec.min ?? '-∞'}, ${spec.max ?? '∞'}], got ${n}`,
        );
      }
      return n as SettingValue<K>;
    }
    case 'enum':
      if (!spec.values!.includes(raw))
        throw new ConfigError(`environment variable ${name} must be one of ${spec.values!.join(', ')}, got "${raw}"`);
      return raw as SettingValue<K>;
    case 'url':
      if (!URL.canParse(raw)) throw new ConfigError(`environment variable ${name} must be a URL, got "${raw}"`);
      return raw as SettingValue<K>;
    case 'json':
      try {
        JSON.parse(raw);
      } catch {
        throw new ConfigError(`environment variable ${name} must be JSON`);
      }
      return raw as SettingValue<K>;
    case 'string':
      return raw as SettingValue<K>;
  }
}

/**
 * The typed value of one setting from the current environment (default applied).
 * @throws ConfigError naming the variable when it is required and unset, or malformed.
 */
export function setting<K extends SettingName>(name: K, env: Env = currentEnv()): SettingValue<K> {
  return parse(name, env[name]);
}

/**
 * Several settings at once; a failure names every missing or malformed variable.
 * @example
 * const c = readSettings(['ARX_CONTROL_TABLE', 'ARX_EVENT_BUS']);
 */
export function readSettings<K extends SettingName>(
  names: readonly K[],
  env: Env = currentEnv(),
): { readonly [P in K]: SettingValue<P> } {
  const problems = checkSettings(names, env);
  if (problems.length) throw new ConfigError(problems.join('; '));
  return Object.freeze(Object.fromEntries(names.map((n) => [n, setting(n, env)]))) as { [P in K]: SettingValue<P> };
}

/** What is wrong with `names` in `env`: one message for all missing variables, one per malformed one. */
export function checkSettings(names: readonly SettingName[], env: Env = currentEnv()): string[] {
  const missing = names.filter((n) => (SETTINGS[n] as SettingSpec).required && !env[n]);
  const out = missing.length ? [`missing required environment variable(s): ${missing.join(', ')}`] : [];
  for (const n of names) {
    if (missing.includes(n)) continue;
    try {
      parse(n, env[n]);
    } catch (e) {
      out.push((e as Error).message);
    }
  }
  return out;
}

/** The settings a handler module's function reads, checked at INIT. */
export interface HandlerSettings {
  readonly names: readonly SettingName[];
  /** @throws ConfigError naming every missing or malformed variable. */
  check(env?: Env): void;
}

/** True in a Lambda execution environment, outside any local-runtime scope. */
const inLambda = (): boolean => Boolean(process.env.AWS_LAMBDA_FUNCTION_NAME) && scope.getStore() === undefined;

/**
 * Declares (and, in Lambda, checks at import — the function's INIT) every setting a handler's
 * function reads, its shared wiring included. Export it as `settings`: the local runtime checks it
 * against each function's own environment when it loads the handler, and the settings infra test
 * checks that `lib/` sets every required one on the function.
 */
export function handlerSettings(...groups: readonly (readonly SettingName[])[]): HandlerSettings {
  const names = [...new Set(groups.flat())].sort();
  const hs: HandlerSettings = {
    names,
    check: (env = currentEnv()) => {
      const problems = checkSettings(names, env);
      if (problems.length) throw new ConfigError(problems.join('; '));
    },
  };
  if (inLambda()) hs.check(process.env);
  return hs;
}

/**
 * Memoises wiring per environment: built on first use in each function's environment (the local
 * runtime's scope, or the process in Lambda), never shared between functions. A failed build is
 * not memoised.
 */
export function perEnvironment<T>(build: () => T): () => T {
  const memo = new WeakMap<object, T>();
  return () => {
    const env = currentEnv();
    if (memo.has(env)) return memo.get(env) as T;
    const value = build();
    memo.set(env, value);
    return value;
  };
}

/**
 * A setting some wiring uses only when its function has it (e.g. the spend gate where the traces
 * table is bound): the value, or undefined when unset. Malformed values still throw.
 */
export function optionalSetting<K extends SettingName>(
  name: K,
  env: Env = currentEnv(),
): BaseValue<Spec<K>> | undefined {
  const raw = env[name];
  return raw === undefined || raw === '' ? undefined : (parse(name, raw) as BaseValue<Spec<K>>);
}
