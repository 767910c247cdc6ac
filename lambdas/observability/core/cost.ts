/**
 * Cost attribution (C5.2): prices per model and tool, event-time pricing, and the GenAI token
 * semantics. Pure.
 *
 * Token semantics (semantic conventions, see semconv.ts): `input_tokens` INCLUDES cached tokens
 * (read and creation) and `output_tokens` INCLUDES reasoning tokens. So
 *   uncached input = input − cache_read − cache_creation, plain output = output − reasoning,
 * and each part is priced at its own rate, falling back to the input (resp. output) rate.
 */

export interface ModelPrice {
  readonly provider: string;
  readonly model: string;
  readonly match: 'exact' | 'regex';
  readonly input_per_1m: number;
  readonly output_per_1m: number;
  readonly cache_read_per_1m?: number;
  readonly cache_write_per_1m?: number;
  readonly reasoning_per_1m?: number;
  /** ISO date or date-time from which this price applies (event time). */
  readonly effective_from: string;
}
export interface ToolPrice {
  readonly tool: string;
  readonly unit_cost: number;
  readonly effective_from: string;
}
export interface PriceTable {
  readonly models: readonly ModelPrice[];
  readonly tools: readonly ToolPrice[];
}

export interface Usage {
  readonly input?: number;
  readonly output?: number;
  readonly cacheRead?: number;
  readonly cacheCreation?: number;
  readonly reasoning?: number;
}

export interface Cost {
  readonly usd: number;
  /** `provider/model` of the price used, or `tool:<name>`. */
  readonly priced_as: string;
  readonly parts: {
    readonly input: number;
    readonly cache_read: number;
    readonly cache_write: number;
    readonly output: number;
    readonly reasoning: number;
    readonly tool: number;
  };
}

/** Dated default list prices (USD per 1M tokens) shipped with ARX; tenants override with PUT /v1/usage/prices. */
export const DEFAULT_PRICES_AS_OF = '2026-11-01';
export const DEFAULT_PRICES: PriceTable = {
  models: [
    {
      provider: 'anthropic',
      model: 'claude-opus-4(-[0-9]{1,2})?(-[0-9]{8})?',
      match: 'regex',
      input_per_1m: 15,
      output_per_1m: 75,
      cache_read_per_1m: 1.5,
      cache_write_per_1m: 18.75,
      effective_from: '2025-05-22',
    },
    {
      provider: 'anthropic',
      model: 'claude-sonnet-4(-[0-9]{1,2})?(-[0-9]{8})?',
      match: 'regex',
      input_per_1m: 3,
      output_per_1m: 15,
      cache_read_per_1m: 0.3,
      cache_write_per_1m: 3.75,
      effective_from: '2025-05-22',
    },
    {
      provider: 'anthropic',
      model: 'claude-3-5-haiku(-[0-9]{8})?',
      match: 'regex',
      input_per_1m: 0.8,
      output_per_1m: 4,
      cache_read_per_1m: 0.08,
      cache_write_per_1m: 1,
      effective_from: '2024-11-04',
    },
    {
      provider: 'openai',
      model: 'gpt-4o(-[0-9]{4}-[0-9]{2}-[0-9]{2})?',
      match: 'regex',
      input_per_1m: 2.5,
      output_per_1m: 10,
      cache_read_per_1m: 1.25,
      effective_from: '2024-10-01',
    },
    {
      provider: 'openai',
      model: 'gpt-4o-mini(-[0-9]{4}-[0-9]{2}-[0-9]{2})?',
      match: 'regex',
      input_per_1m: 0.15,
      output_per_1m: 0.6,
      cache_read_per_1m: 0.075,
      effective_from: '2024-07-18',
    },
    {
      provider: 'openai',
      model: 'gpt-4.1',
      match: 'exact',
      input_per_1m: 2,
      output_per_1m: 8,
      cache_read_per_1m: 0.5,
      effective_from: '2025-04-14',
    },
    {
      provider: 'openai',
      model: 'o3',
      match: 'exact',
      input_per_1m: 2,
      output_per_1m: 8,
      cache_read_per_1m: 0.5,
      effective_from: '2025-06-10',
    },
    {
      provider: 'openai',
      model: 'o4-mini',
      match: 'exact',
      input_per_1m: 1.1,
      output_per_1m: 4.4,
      cache_read_per_1m: 0.275,
      effective_from: '2025-04-16',
    },
    {
      provider: 'aws.bedrock',
      model: 'amazon.nova-pro-v1:0',
      match: 'exact',
      input_per_1m: 0.8,
      output_per_1m: 3.2,
      effective_from: '2024-12-03',
    },
    {
      provider: 'aws.bedrock',
      model: 'amazon.nova-lite-v1:0',
      match: 'exact',
      input_per_1m: 0.06,
      output_per_1m: 0.24,
      effective_from: '2024-12-03',
    },
    {
      provider: 'gcp.gemini',
      model: 'gemini-2.5-pro',
      match: 'exact',
      input_per_1m: 1.25,
      output_per_1m: 10,
      cache_read_per_1m: 0.31,
      effective_from: '2025-06-17',
    },
    {
      provider: 'gcp.gemini',
      model: 'gemini-2.5-flash',
      match: 'exact',
      input_per_1m: 0.3,
      output_per_1m: 2.5,
      cache_read_per_1m: 0.075,
      effective_from: '2025-06-17',
    },
  ],
  tools: [],
};

/** Provider aliases: `gen_ai.provider.name` values that price as another provider's list. */
const PROVIDER_FAMILY: Readonly<Record<string, string>> = {
  'aws.bedrock': 'aws.bedrock',
  bedrock: 'aws.bedrock',
  'anthropic.bedrock': 'aws.bedrock',
  gemini: 'gcp.gemini',
  'gcp.vertex_ai': 'gcp.gemini',
  'gcp.gen_ai': 'gcp.gemini',
  azure: 'openai',
  'azure.ai.openai': 'openai',
};

/**
 * Candidate model ids for price lookup: the id itself, then with a Bedrock inference-profile or
 * cross-region prefix removed (`us.anthropic.claude-sonnet-4-20250514-v1:0`, an
 * `arn:aws:bedrock:…:inference-profile/…` ARN) and the vendor prefix and version suffix stripped
 * (`anthropic.claude-sonnet-4-20250514-v1:0` → `claude-sonnet-4-20250514`).
 */
export function modelCandidates(model: string): string[] {
  const out = [model];
  let m = model;
  const arn =
    /^arn:aws[\w-]*:bedrock:[^:]*:[^:]*:(?:inference-profile|application-inference-profile|foundation-model)\/(.+)$/.exec(
      m,
    );
  if (arn) {
    m = arn[1]!;
    out.push(m);
  }
  const region = /^(us|eu|apac|us-gov|global|jp|au|ca)\.(.+)$/.exec(m);
  if (region) {
    m = region[2]!;
    out.push(m);
  }
  const vendor = /^(anthropic|meta|mistral|cohere|ai21|amazon|deepseek|writer|openai|qwen)\.(.+)$/.exec(m);
  if (vendor && vendor[1] !== 'amazon') {
    m = vendor[2]!;
    out.push(m);
    const ver = withoutVersionSuffix(m);
    if (ver) out.push(ver);
  }
  return [...new Set(out)];
}

/** `claude-x-v2:0` → `claude-x` (a Bedrock model version suffix `-v<n>[:<n>]`), without a backtracking regex (F3). */
function withoutVersionSuffix(m: string): string | undefined {
  const i = m.lastIndexOf('-v');
  if (i <= 0) return undefined;
  const [major, minor, ...rest] = m.slice(i + 2).split(':');
  const digits = (x: string | undefined) => x !== undefined && /^\d+$/.test(x);
  return digits(major) && (minor === undefined || digits(minor)) && rest.length === 0 ? m.slice(0, i) : undefined;
}

const regexCache = new Map<string, RegExp | null>();
function fullMatch(pattern: string, s: string): boolean {
  let re = regexCache.get(pattern);
  if (re === undefined) {
    try {
      re = new RegExp(`^(?:${pattern})$`);
    } catch {
      re = null;
    }
    regexCache.set(pattern, re);
  }
  // Model ids are short; price patterns are validated for super-linear shapes at PUT time.
  return re !== null && s.length <= 256 && re.test(s);
}

const effective = <T extends { effective_from: string }>(list: readonly T[], at: number): T[] =>
  list
    .filter((p) => Date.parse(p.effective_from) <= at)
    .sort((a, b) => Date.parse(b.effective_from) - Date.parse(a.effective_from));

/**
 * The price in force at `at` for a model: tenant prices first, then the defaults; within each an
 * exact match beats a regex; the latest `effective_from` not after `at` wins.
 */
export function priceFor(
  tables: readonly PriceTable[],
  provider: string | null,
  model: string,
  at: number,
): ModelPrice | null {
  const fam = provider ? (PROVIDER_FAMILY[provider] ?? provider) : null;
  const candidates = modelCandidates(model);
  for (const t of tables) {
    // Bedrock serves other vendors' models: a Bedrock span may match any provider's price.
    const live = effective(t.models, at).filter(
      (p) => !fam || fam === 'aws.bedrock' || p.provider === fam || p.provider === provider,
    );
    for (const c of candidates) {
      const exact = live.find((p) => p.match === 'exact' && p.model === c);
      if (exact) return exact;
    }
    for (const c of candidates) {
      const rx = live.find((p) => p.match === 'regex' && fullMatch(p.model, c));
      if (rx) return rx;
    }
  }
  return null;
}

export function toolPriceFor(tables: readonly PriceTable[], tool: string, at: number): ToolPrice | null {
  for (const t of tables) {
    const p = effective(t.tools, at).find((x) => x.tool === tool);
    if (p) return p;
  }
  return null;
}

const round = (n: number): number => Math.round(n * 1e9) / 1e9;
const nz = (n: number | undefined): number => (typeof n === 'number' && Number.isFinite(n) && n > 0 ? n : 0);

/**
 * Cost of one model call. Returns null when there is no usage (no token counts) or no price.
 *
 * @example
 * modelCost(price, { input: 1000, cacheRead: 800, output: 200, reasoning: 50 })
 * // uncached input 200 × input rate + 800 × cache-read rate + 150 × output + 50 × reasoning rate
 */
export function modelCost(price: ModelPrice, u: Usage): Cost | null {
  if (u.input === undefined && u.output === undefined) return null;
  const input = nz(u.input);
  const output = nz(u.output);
  const cacheRead = Math.min(nz(u.cacheRead), input);
  const cacheWrite = Math.min(nz(u.cacheCreation), input - cacheRead);
  const reasoning = Math.min(nz(u.reasoning), output);
  const per = (n: number, rate: number | undefined, fallback: number) => (n * (rate ?? fallback)) / 1e6;
  const parts = {
    input: round(per(input - cacheRead - cacheWrite, price.input_per_1m, price.input_per_1m)),
    cache_read: round(per(cacheRead, price.cache_read_per_1m, price.input_per_1m)),
    cache_write: round(per(cacheWrite, price.cache_write_per_1m, price.input_per_1m)),
    output: round(per(output - reasoning, price.output_per_1m, price.output_per_1m)),
    reasoning: round(per(reasoning, price.reasoning_per_1m, price.output_per_1m)),
    tool: 0,
  };
  const usd = round(parts.input + parts.cache_read + parts.cache_write + parts.output + parts.reasoning);
  return { usd, priced_as: `${price.provider}/${price.model}`, parts };
}

export function toolCost(price: ToolPrice, units = 1): Cost {
  const usd = round(price.unit_cost * units);
  return {
    usd,
    priced_as: `tool:${price.tool}`,
    parts: { input: 0, cache_read: 0, cache_write: 0, output: 0, reasoning: 0, tool: usd },
  };
}

/** What a span needs for pricing (extracted at ingest, stored on the hot item). */
export interface PricingInput {
  readonly provider: string | null;
  readonly model: string | null;
  readonly tool: string | null;
  readonly usage: Usage;
  /** Event time (span start), ms since epoch. */
  readonly at: number;
}

/** Event-time cost of a span: a model price when it has a model and usage, else a tool price. */
/**
 * Price look-ups memoised per price-table list: which price is in force depends on `at` only
 * through the effective_from boundaries, so (provider, model or tool, boundary interval) is an
 * exact key. A batch of thousands of spans of a few models resolves each model once.
 */
interface PriceMemo {
  readonly bounds: readonly number[];
  readonly models: Map<string, ModelPrice | null>;
  readonly tools: Map<string, ToolPrice | null>;
}
const memos = new WeakMap<readonly PriceTable[], PriceMemo>();
function memoOf(tables: readonly PriceTable[]): PriceMemo {
  let m = memos.get(tables);
  if (!m) {
    const bounds = [
      ...new Set(tables.flatMap((t) => [...t.models, ...t.tools].map((p) => Date.parse(p.effective_from)))),
    ]
      .filter(Number.isFinite)
      .sort((a, b) => a - b);
    m = { bounds, models: new Map(), tools: new Map() };
    memos.set(tables, m);
  }
  return m;
}
/** Index of the boundary interval holding `at` (how many boundaries are ≤ at). */
function interval(bounds: readonly number[], at: number): number {
  let lo = 0;
  let hi = bounds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (bounds[mid]! <= at) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

export function costOf(tables: readonly PriceTable[], p: PricingInput): Cost | null {
  const memo = memoOf(tables);
  const iv = interval(memo.bounds, p.at);
  if (p.model) {
    const key = `${iv}|${p.provider ?? ''}|${p.model}`;
    let price = memo.models.get(key);
    if (price === undefined) {
      price = priceFor(tables, p.provider, p.model, p.at);
      if (memo.models.size < 10_000) memo.models.set(key, price);
    }
    const c = price ? modelCost(price, p.usage) : null;
    if (c) return c;
  }
  if (p.tool) {
    const key = `${iv}|${p.tool}`;
    let tp = memo.tools.get(key);
    if (tp === undefined) {
      tp = toolPriceFor(tables, p.tool, p.at);
      if (memo.tools.size < 10_000) memo.tools.set(key, tp);
    }
    if (tp) return toolCost(tp);
  }
  return null;
}
