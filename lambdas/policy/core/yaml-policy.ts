/**
 * The brief's YAML risk policy, compiled to Cedar (schema + policies) and a risk table.
 *
 * ```yaml
 * - name: okta-access-review
 *   connector: okta
 *   operations: { "users:read*": low, "users:deactivate": high }
 *   risk_max: high
 *   approval: { low: none, medium: auto, high: hitl, critical: hitl }
 *   hitl_channel: "#access-reviews"
 *   hitl_timeout: 1h
 *   separation_of_duties: true   # ARX extension: the requester may not approve
 *   budget: { period: month, usd: 200, over: hitl }   # the agent's spend (model + tools) in the period
 *   drift: { score: 0.5, min_risk: high, over: hitl }   # hold a drifting agent's risky actions for a human
 *   gates: { "users:suspend": auto }   # an operation's own approval mode (graduated autonomy)
 * ```
 *
 * Each operation pattern becomes an action (group) `connector:pattern`; a pattern with `*` is an
 * action group every matching action belongs to (the PDP adds that membership at evaluation).
 * Operations within `risk_max` are permitted to any Agent; riskier ones get an explicit forbid.
 *
 * `budget` reads the agent's spend the observability capability puts in the Cedar context
 * (`context.spend.day_usd` / `context.spend.month_usd`, Cedar decimals): at or over `usd`, the
 * connector's actions are forbidden (`over: forbid`) or need a human (`over: hitl`, a permit with
 * `@approval("hitl")` beside each permitted operation, so the strictest approval applies). When the
 * spend is not in the context (the spend store unreachable) the budget counts as exhausted: fail closed.
 * A permit names the budgets that govern it (`Decision.budgets`, {@link budgetsFor}), and the actions
 * path reserves the action's price against each before it runs (a conditional write per counter), so
 * two concurrent actions against the last dollar cannot both pass; a held action reserves when approved.
 *
 * `drift` reads the agent's drift score (`context.drift.score`, a Cedar decimal 0…1, drift
 * capability): at or over `score`, the permitted operations of risk `min_risk` or higher are held
 * for a human (`over: hitl`) or forbidden (`over: forbid`). A context without a drift score counts
 * as drifting (fail closed); the actions path always supplies one (score 1 when the drift store is
 * unreachable).
 *
 * `gates` sets an operation pattern's approval mode apart from its risk's (`approval`): what
 * `POST /v1/policies/recommendations/{id}/apply` writes when it lowers or raises one gate. Stricter
 * annotations (a budget's or drift's hitl) still win.
 */
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';
import type { ApprovalMode, PolicyBudget, Risk } from '../../shared/ports.js';

export const RISKS: readonly Risk[] = ['low', 'medium', 'high', 'critical'];
export const riskRank = (r: Risk): number => RISKS.indexOf(r);
export const DEFAULT_APPROVAL: Readonly<Record<Risk, ApprovalMode>> = {
  low: 'none',
  medium: 'auto',
  high: 'hitl',
  critical: 'hitl',
};
export const DEFAULT_HITL_TIMEOUT_S = 3600;

const RiskZ = z.enum(['low', 'medium', 'high', 'critical']);
const ApprovalZ = z.enum(['none', 'auto', 'hitl']);
const NAME = /^[a-z0-9][a-z0-9._-]{0,63}$/;
const CONNECTOR = /^[a-z0-9][a-z0-9_-]{0,31}$/;
const OPERATION = /^(?!:)(?!.*::)(?!.*:$)[A-Za-z0-9_*:]+$/; // segments joined by single ':' (no nested quantifier: F3)

/** The largest budget a policy may state (USD); Cedar decimals hold 4 fractional digits. */
export const MAX_BUDGET_USD = 1_000_000_000;
export const YamlBudget = z.strictObject(
  {
    period: z.enum(['day', 'month'], { error: 'period must be day or month' }),
    usd: z
      .number({ error: 'usd must be a number of US dollars, e.g. 50 or 12.5' })
      .positive('usd must be greater than 0')
      .max(MAX_BUDGET_USD, `usd must be at most ${MAX_BUDGET_USD}`)
      .refine((n) => Math.abs(Math.round(n * 10_000) - n * 10_000) < 1e-6, 'usd has at most 4 decimal places'),
    over: z.enum(['forbid', 'hitl'], { error: 'over must be forbid or hitl' }).default('forbid'),
  },
  {
    error: (i) =>
      i.code === 'unrecognized_keys' ? undefined : 'budget is { period: day|month, usd: N, over: forbid|hitl }',
  },
);
export type YamlBudget = z.infer<typeof YamlBudget>;

export const YamlDrift = z.strictObject(
  {
    score: z
      .number({ error: 'score must be a number between 0 and 1, e.g. 0.5' })
      .gt(0, 'score must be greater than 0')
      .max(1, 'score must be at most 1'),
    min_risk: RiskZ.default('high'),
    over: z.enum(['forbid', 'hitl'], { error: 'over must be forbid or hitl' }).default('hitl'),
  },
  {
    error: (i) =>
      i.code === 'unrecognized_keys'
        ? undefined
        : 'drift is { score: 0…1, min_risk: low|medium|high|critical, over: hitl|forbid }',
  },
);
export type YamlDrift = z.infer<typeof YamlDrift>;

export const YamlPolicyEntry = z.strictObject({
  name: z.string().regex(NAME, 'lowercase letters, digits, . _ -'),
  connector: z.string().regex(CONNECTOR, 'lowercase letters, digits, _ -'),
  description: z.string().max(1000).optional(),
  operations: z.record(z.string().regex(OPERATION, 'resource:verb, * as wildcard'), RiskZ),
  risk_max: RiskZ.default('critical'),
  approval: z
    .strictObject({
      low: ApprovalZ.optional(),
      medium: ApprovalZ.optional(),
      high: ApprovalZ.optional(),
      critical: ApprovalZ.optional(),
    })
    .optional(),
  hitl_channel: z.string().max(200).optional(),
  hitl_timeout: z
    .union([z.string().regex(/^\d+\s*[smhd]?$/, 'e.g. 90s, 30m, 1h, 2d'), z.number().int().positive()])
    .optional(),
  separation_of_duties: z.boolean().optional(),
  budget: YamlBudget.optional(),
  drift: YamlDrift.optional(),
  gates: z.record(z.string(), ApprovalZ).optional(),
});
export const YamlPolicyDocument = z.union([
  z.array(YamlPolicyEntry).min(1),
  z.strictObject({ policies: z.array(YamlPolicyEntry).min(1) }),
]);

/** One compiled YAML policy: the runtime risk table entry. */
export interface RiskPolicy {
  readonly name: string;
  readonly connector: string;
  readonly operations: readonly { readonly pattern: string; readonly risk: Risk }[];
  readonly risk_max: Risk;
  readonly approval: Readonly<Record<Risk, ApprovalMode>>;
  readonly hitl_channel?: string;
  readonly hitl_timeout_seconds: number;
  readonly separation_of_duties: boolean;
  readonly budget?: YamlBudget;
  readonly drift?: YamlDrift;
  /** Approval mode per operation pattern, over the risk's (`gates`). */
  readonly gates?: Readonly<Record<string, ApprovalMode>>;
}

export interface CompiledYaml {
  readonly schema: string;
  readonly policies: string;
  readonly risk: readonly RiskPolicy[];
  /** Wildcard action groups (`okta:users:read*`, `okta:*`). */
  readonly actionPatterns: readonly string[];
}

export class YamlPolicyError extends Error {
  override readonly name = 'YamlPolicyError';
  constructor(readonly errors: readonly { path: string; message: string }[]) {
    super(errors.map((e) => `${e.path}: ${e.message}`).join('; '));
  }
}

/**
 * The agent domain: agents (owner, platform, status, cohort) in cohorts and tenants, connectors
 * and targets; actions are `connector:resource:verb` in action groups.
 */
export const AGENT_DOMAIN_SCHEMA = `entity Tenant;
entity Cohort in [Tenant];
entity Human in [Tenant] = { "email"?: String, "team"?: String };
entity Agent in [Cohort, Tenant] = {
  "owner"?: Human,
  "platform"?: String,
  "status"?: String,
  "cohort"?: String,
};
entity Connector in [Tenant];
entity Target in [Connector, Tenant] = { "kind"?: String, "owner"?: String, "sensitivity"?: String };
type Spend = { "day_usd"?: __cedar::decimal, "month_usd"?: __cedar::decimal, "period_usd"?: __cedar::decimal, "period"?: String };
type BudgetState = { "usd"?: __cedar::decimal, "remaining_usd"?: __cedar::decimal, "period"?: String, "over"?: String };
type DriftState = { "score"?: __cedar::decimal, "alert"?: Bool, "warming_up"?: Bool, "available"?: Bool };
type ActionContext = { "connector"?: String, "operation"?: String, "spend"?: Spend, "budget"?: BudgetState, "drift"?: DriftState };
`;

/** The Cedar condition "the agent's spend in `period` is known and below `usd`". */
export function underBudget(b: Pick<YamlBudget, 'period' | 'usd'>): string {
  const attr = `${b.period}_usd`;
  return `context has spend && context.spend has ${attr} && context.spend.${attr}.lessThan(decimal(${q(b.usd.toFixed(4))}))`;
}

/** The Cedar condition "the agent's drift score is known and below `score`". */
export function belowDrift(d: Pick<YamlDrift, 'score'>): string {
  return `context has drift && context.drift has score && context.drift.score.lessThan(decimal(${q(d.score.toFixed(4))}))`;
}

export function parseDuration(v: string | number | undefined): number {
  if (v === undefined) return DEFAULT_HITL_TIMEOUT_S;
  if (typeof v === 'number') return v;
  const m = /^(\d+)\s*([smhd]?)$/.exec(v.trim());
  if (!m) throw new YamlPolicyError([{ path: 'hitl_timeout', message: `bad duration ${v}` }]);
  const mult = { '': 1, s: 1, m: 60, h: 3600, d: 86400 }[m[2] as '' | 's' | 'm' | 'h' | 'd'];
  return Number(m[1]) * mult;
}

const q = (s: string): string => JSON.stringify(s);

/** Parses and compiles a YAML policy document; throws YamlPolicyError listing every problem. */
export function compileYamlPolicy(document: string): CompiledYaml {
  let raw: unknown;
  try {
    raw = parseYaml(document);
  } catch (e) {
    throw new YamlPolicyError([{ path: '(document)', message: `not valid YAML: ${(e as Error).message}` }]);
  }
  // One of the two shapes, chosen by the document, so problems are reported per field (a union would
  // only say "Invalid input").
  const parsed = (Array.isArray(raw) ? YamlPolicyDocument.options[0] : YamlPolicyDocument.options[1]).safeParse(
    raw,
  ) as ReturnType<typeof YamlPolicyDocument.safeParse>;
  if (!parsed.success) {
    throw new YamlPolicyError(
      parsed.error.issues.map((i) => ({ path: i.path.map(String).join('.') || '(document)', message: i.message })),
    );
  }
  const entries = Array.isArray(parsed.data) ? parsed.data : parsed.data.policies;
  const names = new Set<string>();
  const risk: RiskPolicy[] = [];
  const actions = new Map<string, Set<string>>(); // action name -> parents
  const patterns = new Set<string>();
  const policies: string[] = [];
  const errors: { path: string; message: string }[] = [];
  entries.forEach((e, i) => {
    if (names.has(e.name)) errors.push({ path: `${i}.name`, message: `duplicate policy name ${e.name}` });
    names.add(e.name);
    if (Object.keys(e.operations).length === 0)
      errors.push({ path: `${i}.operations`, message: 'at least one operation' });
    const group = `${e.connector}:*`;
    patterns.add(group);
    if (!actions.has(group)) actions.set(group, new Set());
    const ops = Object.entries(e.operations).map(([pattern, r]) => ({ pattern, risk: r }));
    for (const op of ops) {
      const name = `${e.connector}:${op.pattern}`;
      if (name.includes('*')) patterns.add(name);
      const parents = actions.get(name) ?? new Set<string>();
      parents.add(group);
      actions.set(name, parents);
      const allowed = riskRank(op.risk) <= riskRank(e.risk_max);
      const ann = `@id(${q(`${e.name}/${op.pattern}`)})\n@risk(${q(op.risk)})\n@policy(${q(e.name)})`;
      policies.push(
        allowed
          ? `${ann}\npermit (principal is Agent, action in Action::${q(name)}, resource);`
          : `${ann}\n@reason("risk above risk_max")\nforbid (principal, action in Action::${q(name)}, resource);`,
      );
    }
    if (e.budget) {
      const b = e.budget;
      const ann = `@policy(${q(e.name)})\n@reason("budget exceeded")\n@budget(${q(`${b.period}:${b.usd}:${b.over}`)})`;
      if (b.over === 'forbid') {
        policies.push(
          `@id(${q(`${e.name}/budget`)})\n${ann}\nforbid (principal, action in Action::${q(group)}, resource)\nunless { ${underBudget(b)} };`,
        );
      } else {
        // hitl: beside each permitted operation, a permit that needs a human once the budget is spent
        for (const op of ops.filter((o) => riskRank(o.risk) <= riskRank(e.risk_max))) {
          policies.push(
            `@id(${q(`${e.name}/budget/${op.pattern}`)})\n@risk(${q(op.risk)})\n@approval("hitl")\n${ann}\npermit (principal is Agent, action in Action::${q(`${e.connector}:${op.pattern}`)}, resource)\nunless { ${underBudget(b)} };`,
          );
        }
      }
    }
    if (e.drift) {
      const dr = e.drift;
      const ann = `@policy(${q(e.name)})\n@reason("agent drifting")\n@drift(${q(`${dr.score}:${dr.min_risk}:${dr.over}`)})`;
      for (const op of ops.filter(
        (o) => riskRank(o.risk) <= riskRank(e.risk_max) && riskRank(o.risk) >= riskRank(dr.min_risk),
      )) {
        const action = `Action::${q(`${e.connector}:${op.pattern}`)}`;
        policies.push(
          dr.over === 'forbid'
            ? `@id(${q(`${e.name}/drift/${op.pattern}`)})\n${ann}\nforbid (principal, action in ${action}, resource)\nunless { ${belowDrift(dr)} };`
            : `@id(${q(`${e.name}/drift/${op.pattern}`)})\n@risk(${q(op.risk)})\n@approval("hitl")\n${ann}\npermit (principal is Agent, action in ${action}, resource)\nunless { ${belowDrift(dr)} };`,
        );
      }
    }
    for (const g of Object.keys(e.gates ?? {}))
      if (!Object.hasOwn(e.operations, g))
        errors.push({ path: `${i}.gates.${g}`, message: `not one of this policy's operations` });
    // F21b: an approval never waits longer than 7 days (the actions service caps it too).
    if (parseDuration(e.hitl_timeout) > 7 * 86400) errors.push({ path: `${i}.hitl_timeout`, message: 'at most 7d' });
    risk.push({
      name: e.name,
      connector: e.connector,
      operations: ops,
      risk_max: e.risk_max,
      approval: { ...DEFAULT_APPROVAL, ...(e.approval ?? {}) },
      ...(e.hitl_channel ? { hitl_channel: e.hitl_channel } : {}),
      hitl_timeout_seconds: parseDuration(e.hitl_timeout),
      separation_of_duties: e.separation_of_duties ?? false,
      ...(e.budget ? { budget: e.budget } : {}),
      ...(e.drift ? { drift: e.drift } : {}),
      ...(e.gates && Object.keys(e.gates).length ? { gates: e.gates } : {}),
    });
  });
  if (errors.length) throw new YamlPolicyError(errors);
  // exact actions also belong to every wildcard group of their connector they match
  const patternRes = [...patterns].map((p) => ({
    p,
    re: new RegExp(
      `^${p
        .split('*')
        .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
        .join('.*')}$`,
    ),
  }));
  for (const [name, parents] of actions) {
    for (const { p, re } of patternRes) if (p !== name && re.test(name)) parents.add(p);
  }
  const actionDecls = [...actions].map(([name, parents]) => {
    const memberOf = parents.size ? ` in [${[...parents].map(q).join(', ')}]` : '';
    return `action ${q(name)}${memberOf} appliesTo { principal: [Agent], resource: [Connector, Target], context: ActionContext };`;
  });
  return {
    schema: `${AGENT_DOMAIN_SCHEMA}\n${actionDecls.join('\n')}\n`,
    policies: `${policies.join('\n\n')}\n`,
    risk,
    actionPatterns: [...patterns],
  };
}

/** The YAML policy classifying `connector:resource:verb`: exact operation first, else the longest matching pattern. */
export function classify(
  table: readonly RiskPolicy[],
  action: string,
): { policy: RiskPolicy; risk: Risk; pattern: string } | null {
  const i = action.indexOf(':');
  if (i < 0) return null;
  const connector = action.slice(0, i);
  const op = action.slice(i + 1);
  let best: { policy: RiskPolicy; risk: Risk; pattern: string; score: number } | null = null;
  for (const p of table) {
    if (p.connector !== connector) continue;
    for (const o of p.operations) {
      const exact = o.pattern === op;
      if (!exact && !(o.pattern.includes('*') && globMatch(o.pattern, op))) continue;
      const score = exact ? Number.MAX_SAFE_INTEGER : o.pattern.replace(/\*/g, '').length;
      if (!best || score > best.score) best = { policy: p, risk: o.risk, pattern: o.pattern, score };
    }
  }
  return best ? { policy: best.policy, risk: best.risk, pattern: best.pattern } : null;
}

/**
 * The YAML budgets that govern `connector:resource:verb`: an `over: forbid` budget covers every
 * action of its policy's connector (its Cedar forbid is on `connector:*`), an `over: hitl` budget
 * the operations its policy permits (its hitl permits sit beside those).
 */
export function budgetsFor(table: readonly RiskPolicy[], action: string): PolicyBudget[] {
  const i = action.indexOf(':');
  if (i < 0) return [];
  const connector = action.slice(0, i);
  const op = action.slice(i + 1);
  const out: PolicyBudget[] = [];
  for (const p of table) {
    const b = p.budget;
    if (!b || p.connector !== connector) continue;
    const covered =
      b.over === 'forbid' ||
      p.operations.some(
        (o) =>
          riskRank(o.risk) <= riskRank(p.risk_max) &&
          (o.pattern === op || (o.pattern.includes('*') && globMatch(o.pattern, op))),
      );
    if (!covered) continue;
    out.push({
      policy: p.name,
      period: b.period,
      usd: b.usd,
      over: b.over,
      hitl: {
        ...(p.hitl_channel ? { channel: p.hitl_channel } : {}),
        timeout_seconds: p.hitl_timeout_seconds,
        separation_of_duties: p.separation_of_duties,
      },
    });
  }
  return out;
}

function globMatch(glob: string, s: string): boolean {
  return new RegExp(
    `^${glob
      .split('*')
      .map((x) => x.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  ).test(s);
}
