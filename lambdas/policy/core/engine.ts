/**
 * The PDP library: Cedar evaluation whose cost stays flat as a policy set grows.
 *
 * - Policies are indexed by their scope (action, principal, resource). A request is evaluated only
 *   against the policies whose scope can match it; Cedar checks scope before conditions, so a
 *   policy left out could neither be satisfied nor error — the decision is unchanged.
 * - Candidates are split into a *static* part (principal and resource unconstrained or only
 *   `is T`: a function of the action and the two entity types, preparsed once per key) and a
 *   *dynamic* part (scoped to entities; preparsed per distinct set, LRU-cached). Cedar's decision
 *   composes over a partition of the policy set (deny if any forbid holds, else allow if any
 *   permit holds), so the parts are evaluated separately and combined.
 * - Entities passed to Cedar are a slice: principal, resource, action, entities named in the
 *   context and in the candidate policies, with their ancestors and the entities their attributes
 *   reference — never the whole store.
 */
import { cedar, uidKey, uidOf, messages, type EntityJson, type CedarValue, type PolicyJson } from './cedar.js';

/** Scope of one policy along principal or resource. `keys` null: any entity. */
export interface EntityScope {
  /** `is T` constraint. */
  readonly type?: string;
  /** Entity keys (`uidKey`) of `==` / `in`; the request entity or one of its ancestors must be one. */
  readonly keys?: readonly string[];
  readonly eq?: boolean;
}

/** One static policy with its precomputed index data (computed at push time, carried in the bundle). */
export interface IndexedPolicy {
  readonly id: string;
  readonly text: string;
  readonly effect: 'permit' | 'forbid';
  readonly principal: EntityScope;
  /** Action entity keys of `==` / `in` / `in [..]`; absent: any action. */
  readonly actions?: readonly string[];
  readonly resource: EntityScope;
  /** Entity literals named in the conditions (their data must be in the slice). */
  readonly refs?: readonly string[];
  readonly annotations?: Readonly<Record<string, string>>;
  /** Leading conjuncts of the first `when` clause that the engine can test without Cedar (see `guardFails`). */
  readonly guards?: readonly Guard[];
}

/**
 * A condition prefix the engine evaluates in JS to drop a policy that cannot be satisfied:
 * Cedar evaluates `when { a && b && … }` left to right and stops at the first false conjunct, so
 * when the leading conjuncts are certainly true up to one that is certainly false, the policy is
 * neither satisfied nor erroring. Anything uncertain (missing entity or attribute, another type)
 * keeps the policy for Cedar.
 */
export type Guard =
  | { readonly k: 'has'; readonly v: 'principal' | 'resource'; readonly attr: string }
  | {
      readonly k: 'eq';
      readonly v: 'principal' | 'resource' | 'context';
      readonly attr: string;
      readonly value: string | boolean | number;
    }
  | { readonly k: 'like'; readonly v: 'principal' | 'resource' | 'context'; readonly attr: string; readonly re: string }
  | { readonly k: 'truthy'; readonly v: 'principal' | 'resource' | 'context'; readonly attr: string };

export class PolicyParseError extends Error {
  override readonly name = 'PolicyParseError';
  constructor(readonly errors: readonly string[]) {
    super(errors.join('; '));
  }
}

/** Splits Cedar policy text into indexed policies. Ids: `@id("…")` when given, else Cedar's `policyN`. */
export function indexPolicies(text: string): IndexedPolicy[] {
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === 'failure') throw new PolicyParseError(messages(parts.errors));
  if (parts.policy_templates.length > 0) throw new PolicyParseError(['policy templates are not supported in bundles']);
  const seen = new Set<string>();
  return parts.policies.map((p, i) => {
    const j = cedar.policyToJson(p);
    if (j.type === 'failure') throw new PolicyParseError(messages(j.errors));
    const annotations = (j.json.annotations ?? {}) as Record<string, string>;
    const id = annotations.id ?? `policy${i}`;
    if (seen.has(id)) throw new PolicyParseError([`duplicate policy id "${id}"`]);
    seen.add(id);
    return indexPolicy(id, p, j.json);
  });
}

function scopeOf(c: PolicyJson['principal']): EntityScope {
  switch (c.op) {
    case 'All':
      return {};
    case '==':
      return 'entity' in c ? { keys: [uidKey(c.entity)], eq: true } : {};
    case 'in':
      return 'entity' in c ? { keys: [uidKey(c.entity)] } : {};
    case 'is':
      return c.in && 'entity' in c.in ? { type: c.entity_type, keys: [uidKey(c.in.entity)] } : { type: c.entity_type };
  }
}

export function indexPolicy(id: string, text: string, json: PolicyJson): IndexedPolicy {
  const a = json.action;
  const actions =
    a.op === 'All'
      ? undefined
      : a.op === '=='
        ? 'entity' in a
          ? [uidKey(a.entity)]
          : undefined
        : 'entity' in a
          ? [uidKey(a.entity)]
          : a.entities.map(uidKey);
  const refs = new Set<string>();
  for (const c of json.conditions) collectRefs(c.body, refs);
  const annotations = (json.annotations ?? {}) as Record<string, string>;
  const guards = json.conditions[0]?.kind === 'when' ? guardsOf(json.conditions[0].body) : [];
  return {
    id,
    text,
    effect: json.effect,
    ...(guards.length ? { guards } : {}),
    principal: scopeOf(json.principal),
    ...(actions ? { actions } : {}),
    resource: scopeOf(json.resource),
    ...(refs.size ? { refs: [...refs] } : {}),
    ...(Object.keys(annotations).length ? { annotations } : {}),
  };
}

function conjuncts(e: unknown): unknown[] {
  const o = e as Record<string, { left: unknown; right: unknown }>;
  if (o && typeof o === 'object' && '&&' in o) return [...conjuncts(o['&&']!.left), ...conjuncts(o['&&']!.right)];
  return [e];
}

function attrOf(e: unknown): { v: 'principal' | 'resource' | 'context'; attr: string } | null {
  const dot = (e as { '.'?: { left: { Var?: string }; attr: string } })?.['.'];
  const v = dot?.left?.Var;
  if (!dot || (v !== 'principal' && v !== 'resource' && v !== 'context')) return null;
  return { v, attr: dot.attr };
}

function guardsOf(body: unknown): Guard[] {
  const out: Guard[] = [];
  for (const c of conjuncts(body)) {
    // biome-ignore lint/suspicious/noExplicitAny: a Cedar JSON expression node, of many shapes
    const o = c as Record<string, any>;
    let g: Guard | null = null;
    if (
      o.has &&
      (o.has.left?.Var === 'principal' || o.has.left?.Var === 'resource') &&
      typeof o.has.attr === 'string'
    ) {
      g = { k: 'has', v: o.has.left.Var, attr: o.has.attr };
    } else if (o['==']) {
      const a = attrOf(o['==']?.left);
      const val = o['==']?.right?.Value;
      if (a && (typeof val === 'string' || typeof val === 'boolean' || typeof val === 'number'))
        g = { k: 'eq', ...a, value: val };
    } else if (o.like) {
      const a = attrOf(o.like.left);
      const pat = o.like.pattern as ('Wildcard' | { Literal: string })[] | undefined;
      if (a && Array.isArray(pat)) {
        const re = `^${pat.map((p) => (p === 'Wildcard' ? '[\\s\\S]*' : p.Literal.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`;
        g = { k: 'like', ...a, re };
      }
    } else {
      const a = attrOf(o);
      if (a) g = { k: 'truthy', ...a };
    }
    if (!g) break;
    out.push(g);
  }
  return out;
}

function collectRefs(node: unknown, out: Set<string>): void {
  if (!node || typeof node !== 'object') return;
  if (Array.isArray(node)) {
    for (const n of node) collectRefs(n, out);
    return;
  }
  const o = node as Record<string, unknown>;
  if ('__entity' in o && o.__entity && typeof o.__entity === 'object') {
    out.add(uidKey(o.__entity as { type: string; id: string }));
    return;
  }
  for (const v of Object.values(o)) collectRefs(v, out);
}

/** Parent links of action entities derived from a Cedar schema (`memberOf`), as Cedar does with a schema. */
export function schemaActionEntities(schema: string): EntityJson[] {
  if (!schema.trim()) return [];
  const r = cedar.schemaToJson(schema);
  if (r.type === 'failure') throw new PolicyParseError(messages(r.errors));
  const out: EntityJson[] = [];
  for (const [ns, def] of Object.entries(r.json)) {
    const actionType = ns ? `${ns}::Action` : 'Action';
    for (const [name, act] of Object.entries(def.actions ?? {})) {
      out.push({
        uid: { type: actionType, id: name },
        attrs: {},
        parents: (act.memberOf ?? []).map((m) => ({
          type: m.type ? (m.type.includes('::') || !ns ? m.type : `${ns}::${m.type}`) : actionType,
          id: m.id,
        })),
      });
    }
  }
  return out;
}

// ---------------------------------------------------------------- preparsed-set slots

/**
 * cedar-wasm keeps preparsed sets in wasm memory keyed by id, with no delete. Ids are slots from
 * a process-wide pool; releasing a slot overwrites it with an empty set so memory is reclaimed.
 */
const freeSlots: string[] = [];
let slotCounter = 0;
function takeSlot(): string {
  return freeSlots.pop() ?? `arx-slot-${slotCounter++}`;
}
function releaseSlot(id: string): void {
  cedar.preparsePolicySet(id, { staticPolicies: {} });
  freeSlots.push(id);
}
/** Slots currently in use (for tests and memory reporting). */
export const slotsInUse = (): number => slotCounter - freeSlots.length;

let schemaCounter = 0;

// ---------------------------------------------------------------- engine

export interface AuthorizeRequest {
  readonly principal: { type: string; id: string };
  readonly action: { type: string; id: string };
  readonly resource: { type: string; id: string };
  readonly context?: Record<string, CedarValue>;
  /** Validate the request against the schema (needs `useSchema`). */
  readonly validateRequest?: boolean;
  /** Extra entities supplied with the request; they override store entities with the same uid. */
  readonly entities?: readonly EntityJson[];
}

export type AuthorizeResult =
  | {
      readonly type: 'response';
      readonly decision: 'allow' | 'deny';
      readonly reason: readonly string[];
      readonly errors: readonly { readonly policyId: string; readonly message: string }[];
      /** How many policies were evaluated (the candidate set). */
      readonly evaluated: number;
    }
  | { readonly type: 'failure'; readonly errors: readonly string[] };

export interface EngineOptions {
  readonly policies: readonly IndexedPolicy[];
  readonly entities?: readonly EntityJson[];
  /** Cedar schema text; action hierarchy is taken from it, and, with `useSchema`, entity/context parsing. */
  readonly schema?: string;
  /** Parse entities and context against the schema at evaluation time (Cedar's typed parsing). @default false */
  readonly useSchema?: boolean;
  /** Action-group patterns (`okta:users:read*`): an action is a member of every pattern it matches. */
  readonly actionPatterns?: readonly string[];
  /** Preparsed entity-scoped sets kept (LRU). @default 1024 */
  readonly dynamicCacheSize?: number;
}

interface Bucket {
  slot: string | null;
  count: number;
  /** Entity literals named by the bucket's policies. */
  refs: readonly string[];
  /** Not cached: release its slot after the call. */
  temporary?: boolean;
  /** Policy indexes in the set. */
  idx: readonly number[];
  /** Some policy in the set has guards. */
  guarded: boolean;
}

/**
 * An indexed, preparsed policy set over an entity store. Not thread-safe (neither is wasm);
 * call `dispose()` when the bundle is replaced to free its preparsed sets.
 *
 * @example
 * const engine = new PolicyEngine({ policies: indexPolicies(text), entities });
 * engine.authorize({ principal: { type: 'Agent', id: 'a1' }, action: { type: 'Action', id: 'okta:users:read' }, resource: { type: 'Connector', id: 'okta' } });
 */
export class PolicyEngine {
  readonly size: number;
  private readonly policies: readonly IndexedPolicy[];
  private readonly store = new Map<string, EntityJson>();
  private readonly ancestorCache = new Map<string, readonly string[]>();
  private readonly byPrincipalKey = new Map<string, number[]>();
  private readonly byResourceKey = new Map<string, number[]>();
  /** Policies with no principal or resource keys: candidates of the static part. */
  private readonly staticIdx: number[] = [];
  private readonly staticBuckets = new Map<string, Bucket>();
  private readonly staticShapes = new Map<
    string,
    { action: { type: string; id: string }; principalType: string; resourceType: string }
  >();
  private readonly dynamic = new Map<string, Bucket>();
  private readonly dynamicMax: number;
  private readonly patterns: readonly { pattern: string; re: RegExp }[];
  private readonly schemaName: string | undefined;
  /** Guard pruning needs untyped JSON values; with schema-typed parsing a string may be an extension value. */
  private readonly guardsOn: boolean;
  private disposed = false;

  constructor(opts: EngineOptions) {
    this.policies = opts.policies;
    this.size = opts.policies.length;
    this.dynamicMax = opts.dynamicCacheSize ?? 1024;
    for (const e of opts.schema ? schemaActionEntities(opts.schema) : []) this.store.set(uidKey(e.uid), e);
    for (const e of opts.entities ?? []) this.store.set(uidKey(e.uid), e);
    this.patterns = (opts.actionPatterns ?? []).map((p) => ({ pattern: p, re: globToRegExp(p) }));
    this.policies.forEach((p, i) => {
      const pk = p.principal.keys;
      const rk = p.resource.keys;
      if (!pk && !rk) this.staticIdx.push(i);
      else if (pk) for (const k of pk) push(this.byPrincipalKey, k, i);
      else for (const k of rk!) push(this.byResourceKey, k, i);
    });
    this.guardsOn = !(opts.useSchema && opts.schema);
    if (opts.useSchema && opts.schema) {
      this.schemaName = `arx-schema-${schemaCounter++}`;
      const r = cedar.preparseSchema(this.schemaName, opts.schema);
      if (r.type === 'failure') throw new PolicyParseError(messages(r.errors));
    }
  }

  /** Evaluates one request against the policies that can apply to it. Never throws for bad input. */
  authorize(req: AuthorizeRequest): AuthorizeResult {
    try {
      return this.evaluate(req);
    } catch (e) {
      return {
        type: 'failure',
        errors: [e instanceof PolicyParseError ? e.message : `evaluation failed: ${(e as Error).message}`],
      };
    }
  }

  private evaluate(req: AuthorizeRequest): AuthorizeResult {
    if (this.disposed) return { type: 'failure', errors: ['policy engine disposed'] };
    const extra = req.entities?.length ? new Map(req.entities.map((e) => [uidKey(e.uid), e])) : undefined;
    const actionKey = uidKey(req.action);
    const aAnc = this.actionAncestors(req.action, extra);
    const pAnc = this.ancestors(uidKey(req.principal), extra);
    const rAnc = this.ancestors(uidKey(req.resource), extra);
    const pKey = uidKey(req.principal);
    const rKey = uidKey(req.resource);

    const full = this.staticBucket(req, extra);
    let sb = full;
    if (this.guardsOn && full.guarded) {
      const keep = full.idx.filter((i) => !this.guardFails(this.policies[i]!.guards, req, extra));
      if (keep.length !== full.idx.length) {
        if (full.temporary && full.slot) releaseSlot(full.slot);
        sb = this.lru(`s:${keep.join(',')}`, keep);
      }
    }
    // dynamic part: policies keyed to the principal/resource or their ancestors
    const dyn = new Set<number>();
    for (const k of [pKey, ...pAnc]) for (const i of this.byPrincipalKey.get(k) ?? []) dyn.add(i);
    for (const k of [rKey, ...rAnc]) for (const i of this.byResourceKey.get(k) ?? []) dyn.add(i);
    const dIdx = [...dyn]
      .filter((i) => this.matches(this.policies[i]!, req, actionKey, aAnc, pKey, pAnc, rKey, rAnc))
      .filter((i) => !this.guardsOn || !this.guardFails(this.policies[i]!.guards, req, extra))
      .sort((a, b) => a - b);
    const db = dIdx.length ? this.lru(dIdx.join(','), dIdx) : undefined;
    const evaluated = sb.count + (db?.count ?? 0);
    if (evaluated === 0) return { type: 'response', decision: 'deny', reason: [], errors: [], evaluated: 0 };

    const entities = this.slice(req, db?.refs.length ? [...sb.refs, ...db.refs] : sb.refs, extra);
    const parts = [sb, db].filter((b): b is Bucket => !!b && !!b.slot);
    const answers = parts.map((b) =>
      cedar.statefulIsAuthorized({
        principal: req.principal,
        action: req.action,
        resource: req.resource,
        context: req.context ?? {},
        preparsedPolicySetId: b.slot!,
        ...(this.schemaName ? { preparsedSchemaName: this.schemaName } : {}),
        validateRequest: Boolean(req.validateRequest && this.schemaName),
        entities,
      }),
    );
    if (sb.temporary && sb.slot) releaseSlot(sb.slot);
    return combine(answers, evaluated);
  }

  /** Frees the preparsed sets. Later `authorize` calls fail (and callers forbid). */
  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    for (const b of [...this.staticBuckets.values(), ...this.dynamic.values()]) if (b.slot) releaseSlot(b.slot);
    this.staticBuckets.clear();
    this.dynamic.clear();
  }

  /** The (action, principal type, resource type) keys of the static parts built so far. */
  staticKeys(): { action: { type: string; id: string }; principalType: string; resourceType: string }[] {
    return [...this.staticShapes.values()];
  }

  /** Builds the static parts for these request shapes ahead of traffic (e.g. after a hot swap). */
  warm(shapes: readonly { action: { type: string; id: string }; principalType: string; resourceType: string }[]): void {
    for (const s of shapes) {
      try {
        this.staticBucket({
          principal: { type: s.principalType, id: '' },
          action: s.action,
          resource: { type: s.resourceType, id: '' },
        });
      } catch {
        // a bucket that fails to preparse is retried (and fails closed) on the request itself
      }
    }
  }

  /** A preparsed set for exactly these policies, from the LRU cache. */
  private lru(key: string, idx: number[]): Bucket {
    let b = this.dynamic.get(key);
    if (b) {
      this.dynamic.delete(key); // re-insert as most recent
    } else {
      b = this.preparse(idx);
      if (this.dynamic.size >= this.dynamicMax) {
        const [oldK, old] = this.dynamic.entries().next().value as [string, Bucket];
        this.dynamic.delete(oldK);
        if (old.slot) releaseSlot(old.slot);
      }
    }
    this.dynamic.set(key, b);
    return b;
  }

  private readonly regexCache = new Map<string, RegExp>();

  /** True when the policy's guard prefix is certainly false for this request (so Cedar would skip it without error). */
  private guardFails(
    guards: readonly Guard[] | undefined,
    req: Pick<AuthorizeRequest, 'principal' | 'resource' | 'context'>,
    extra?: Map<string, EntityJson>,
  ): boolean {
    if (!guards) return false;
    for (const g of guards) {
      const r = this.testGuard(g, req, extra);
      if (r === null) return false;
      if (!r) return true;
    }
    return false;
  }

  private testGuard(
    g: Guard,
    req: Pick<AuthorizeRequest, 'principal' | 'resource' | 'context'>,
    extra?: Map<string, EntityJson>,
  ): boolean | null {
    let holder: Record<string, CedarValue> | undefined;
    if (g.v === 'context') holder = req.context ?? {};
    else holder = this.entity(uidKey(g.v === 'principal' ? req.principal : req.resource), extra)?.attrs;
    if (!holder) return null;
    const present = Object.hasOwn(holder, g.attr);
    if (g.k === 'has') return present;
    if (!present) return null;
    const val = holder[g.attr];
    switch (g.k) {
      case 'eq':
        return typeof val === typeof g.value ? val === g.value : null;
      case 'like': {
        if (typeof val !== 'string') return null;
        let re = this.regexCache.get(g.re);
        if (!re) {
          re = new RegExp(g.re);
          this.regexCache.set(g.re, re);
        }
        return re.test(val);
      }
      case 'truthy':
        return typeof val === 'boolean' ? val : null;
    }
  }

  /** The static part: a function of (action, principal type, resource type) only. */
  private staticBucket(
    req: Pick<AuthorizeRequest, 'principal' | 'action' | 'resource'>,
    extra?: Map<string, EntityJson>,
  ): Bucket {
    const actionKey = uidKey(req.action);
    const sKey = `${actionKey}|${req.principal.type}|${req.resource.type}`;
    // request-supplied action entities can change the action's groups: never cache that bucket
    const actionOverride = !!extra && [...extra.values()].some((e) => uidOf(e.uid).type === req.action.type);
    let sb = actionOverride ? undefined : this.staticBuckets.get(sKey);
    if (!sb) {
      const aAnc = this.actionAncestors(req.action, extra);
      // static policies have no entity keys, so only action and types decide whether they apply
      const idx = this.staticIdx.filter((i) => this.matches(this.policies[i]!, req, actionKey, aAnc, '', [], '', []));
      sb = this.preparse(idx);
      if (actionOverride) return { ...sb, temporary: true };
      this.staticBuckets.set(sKey, sb);
      if (!extra)
        this.staticShapes.set(sKey, {
          action: { type: req.action.type, id: req.action.id },
          principalType: req.principal.type,
          resourceType: req.resource.type,
        });
    }
    return sb;
  }

  private preparse(idx: number[]): Bucket {
    if (idx.length === 0) return { slot: null, count: 0, refs: [], idx: [], guarded: false };
    const set: Record<string, string> = {};
    for (const i of idx) set[this.policies[i]!.id] = this.policies[i]!.text;
    const slot = takeSlot();
    const r = cedar.preparsePolicySet(slot, { staticPolicies: set });
    if (r.type === 'failure') {
      freeSlots.push(slot);
      throw new PolicyParseError(messages(r.errors));
    }
    const refs = new Set<string>();
    for (const i of idx) for (const k of this.policies[i]!.refs ?? []) refs.add(k);
    return { slot, count: idx.length, refs: [...refs], idx, guarded: idx.some((i) => !!this.policies[i]!.guards) };
  }

  private matches(
    p: IndexedPolicy,
    req: Pick<AuthorizeRequest, 'principal' | 'action' | 'resource'>,
    actionKey: string,
    aAnc: ReadonlySet<string>,
    pKey: string,
    pAnc: readonly string[],
    rKey: string,
    rAnc: readonly string[],
  ): boolean {
    if (p.actions && !p.actions.some((k) => k === actionKey || aAnc.has(k))) return false;
    return (
      scopeMatches(p.principal, req.principal.type, pKey, pAnc) &&
      scopeMatches(p.resource, req.resource.type, rKey, rAnc)
    );
  }

  private entity(key: string, extra?: Map<string, EntityJson>): EntityJson | undefined {
    return extra?.get(key) ?? this.store.get(key);
  }

  /** Transitive ancestors (entity keys) of an entity in the store. */
  private ancestors(key: string, extra?: Map<string, EntityJson>): readonly string[] {
    if (!extra) {
      const hit = this.ancestorCache.get(key);
      if (hit) return hit;
    }
    const out: string[] = [];
    const seen = new Set<string>([key]);
    const queue = [key];
    while (queue.length) {
      const e = this.entity(queue.pop()!, extra);
      for (const p of e?.parents ?? []) {
        const k = uidKey(p);
        if (!seen.has(k)) {
          seen.add(k);
          out.push(k);
          queue.push(k);
        }
      }
    }
    if (!extra) this.ancestorCache.set(key, out);
    return out;
  }

  private actionParents(action: { type: string; id: string }, extra?: Map<string, EntityJson>): EntityJson {
    const key = uidKey(action);
    const known = this.entity(key, extra);
    if (!this.patterns.length) return known ?? { uid: action, attrs: {}, parents: [] };
    const parents = [...(known?.parents ?? [])];
    const have = new Set(parents.map(uidKey));
    for (const p of this.patterns) {
      if (p.pattern !== action.id && p.re.test(action.id)) {
        const uid = { type: action.type, id: p.pattern };
        if (!have.has(uidKey(uid))) parents.push(uid);
      }
    }
    return { uid: action, attrs: known?.attrs ?? {}, parents };
  }

  private actionAncestors(action: { type: string; id: string }, extra?: Map<string, EntityJson>): ReadonlySet<string> {
    const e = this.actionParents(action, extra);
    const out = new Set<string>();
    for (const p of e.parents) {
      const k = uidKey(p);
      out.add(k);
      for (const a of this.ancestors(k, extra)) out.add(a);
    }
    return out;
  }

  /** The entities Cedar needs for this request: roots plus ancestors and attribute-referenced entities. */
  private slice(req: AuthorizeRequest, literalRefs: readonly string[], extra?: Map<string, EntityJson>): EntityJson[] {
    const out: EntityJson[] = [];
    const seen = new Set<string>();
    const queue: string[] = [];
    const visit = (k: string): void => {
      if (!seen.has(k)) {
        seen.add(k);
        queue.push(k);
      }
    };
    const actionEntity = this.actionParents(req.action, extra);
    const actionKey = uidKey(req.action);
    seen.add(actionKey);
    out.push(actionEntity);
    for (const p of actionEntity.parents) visit(uidKey(p));
    visit(uidKey(req.principal));
    visit(uidKey(req.resource));
    for (const k of literalRefs) visit(k);
    collectValueRefs(req.context as CedarValue | undefined, visit);
    while (queue.length) {
      const k = queue.pop()!;
      const e = this.entity(k, extra);
      if (!e) continue;
      out.push(e);
      for (const p of e.parents) visit(uidKey(p));
      for (const v of Object.values(e.attrs)) collectValueRefs(v, visit);
      if (e.tags) for (const v of Object.values(e.tags)) collectValueRefs(v, visit);
    }
    return out;
  }
}

function scopeMatches(s: EntityScope, type: string, key: string, anc: readonly string[]): boolean {
  if (s.type && s.type !== type) return false;
  if (!s.keys) return true;
  return s.keys.some((k) => k === key || (!s.eq && anc.includes(k)));
}

function collectValueRefs(v: CedarValue | undefined, visit: (k: string) => void): void {
  if (!v || typeof v !== 'object') return;
  if (Array.isArray(v)) {
    for (const x of v) collectValueRefs(x, visit);
    return;
  }
  const o = v as Record<string, CedarValue>;
  if ('__entity' in o) {
    visit(uidKey(o.__entity as { type: string; id: string }));
    return;
  }
  if ('__extn' in o) return;
  const keys = Object.keys(o);
  if (keys.length === 2 && typeof o.type === 'string' && typeof o.id === 'string')
    visit(uidKey(o as { type: string; id: string }));
  for (const x of Object.values(o)) collectValueRefs(x, visit);
}

function push(m: Map<string, number[]>, k: string, i: number): void {
  const l = m.get(k);
  if (l) l.push(i);
  else m.set(k, [i]);
}

/** `*` matches any run of characters; everything else is literal. */
export function globToRegExp(glob: string): RegExp {
  return new RegExp(
    `^${glob
      .split('*')
      .map((s) => s.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
      .join('.*')}$`,
  );
}

function combine(answers: ReturnType<typeof cedar.statefulIsAuthorized>[], evaluated: number): AuthorizeResult {
  const failures: string[] = [];
  const denyReasons = new Set<string>();
  const allowReasons = new Set<string>();
  const errors: { policyId: string; message: string }[] = [];
  for (const a of answers) {
    if (a.type === 'failure') {
      failures.push(...messages(a.errors));
      continue;
    }
    const { decision, diagnostics } = a.response;
    for (const e of diagnostics.errors) errors.push({ policyId: e.policyId, message: e.error.message });
    for (const r of diagnostics.reason) (decision === 'allow' ? allowReasons : denyReasons).add(r);
  }
  if (failures.length) return { type: 'failure', errors: failures };
  if (denyReasons.size) return { type: 'response', decision: 'deny', reason: [...denyReasons], errors, evaluated };
  if (allowReasons.size) return { type: 'response', decision: 'allow', reason: [...allowReasons], errors, evaluated };
  return { type: 'response', decision: 'deny', reason: [], errors, evaluated };
}
