/**
 * Policy bundles: compiled, strictly validated, content-addressed and signed.
 *
 * A bundle is immutable once stored. It is stored as two lines: a small JSON header
 * `{format, digest, signature}` and the content JSON. `digest` is SHA-256 over the exact content
 * bytes (so a PDP hashes what it parses, without re-serialising), and the tenant's key signs the
 * digest string.
 */
import { canonicalJson, sha256Hex } from '../../shared/ids.js';

/** First line of a stored bundle: `{"format":"arx-bundle/1","digest":…,"signature":…}`; the content follows. */
export const BUNDLE_ENVELOPE = 'arx-bundle/1';
import { cedar, messages, type EntityJson } from './cedar.js';
import { indexPolicies, PolicyParseError, type IndexedPolicy } from './engine.js';
import { compileYamlPolicy, YamlPolicyError, type RiskPolicy } from './yaml-policy.js';
import { buildBloom, bloomItem, type BloomJson } from './bloom.js';

export const BUNDLE_FORMAT = 1;

export interface BundleContent {
  readonly format_version: typeof BUNDLE_FORMAT;
  readonly tenant_id: string;
  readonly bundle_id: string;
  readonly version: number;
  readonly created_at: string;
  readonly source_format: 'cedar' | 'yaml';
  /** Cedar schema text. */
  readonly schema: string;
  readonly policies: readonly IndexedPolicy[];
  readonly entities: readonly EntityJson[];
  /** The YAML risk table (empty for Cedar bundles: risk then comes from `@risk` annotations). */
  readonly risk: readonly RiskPolicy[];
  readonly action_patterns: readonly string[];
  /** Revoked agent ids (`tenant|agent`) at build time, for offline enforcement points. */
  readonly revoked_bloom: BloomJson;
  /** The YAML document as authored, when any. */
  readonly source?: string;
}

export interface BundleSignature {
  readonly kid: string;
  readonly alg: 'ES256';
  /** ES256 over the UTF-8 digest string: JOSE R‖S (64 bytes), base64url; `kid` = RFC 7638 thumbprint of the tenant key. */
  readonly sig: string;
}

export interface SignedBundle extends BundleContent {
  readonly digest: string;
  readonly signature: BundleSignature;
}

/** The live pointer: `tenants/<tenant>/live.json`. */
export interface LiveManifest {
  readonly tenant_id: string;
  readonly bundle_id: string;
  readonly version: number;
  readonly digest: string;
  readonly key: string;
  readonly promoted_at: string;
  readonly promoted_by: string;
}

export type BundleInput =
  | {
      readonly format: 'cedar';
      readonly schema: string;
      readonly policies: string;
      readonly entities?: readonly unknown[];
    }
  | { readonly format: 'yaml'; readonly document: string };

export interface BundleProblem {
  readonly path: string;
  readonly message: string;
}

export type CompileOutcome =
  | { readonly ok: true; readonly content: BundleContent }
  | { readonly ok: false; readonly errors: readonly BundleProblem[] };

/** Digest of the content as `encodeBundle` writes it (JSON.stringify in the content's key order). */
export function digestOf(content: BundleContent): string {
  return `sha256:${sha256Hex(JSON.stringify(content))}`;
}

/** Serialises a bundle for storage: header line, then the content bytes the digest covers. */
export function encodeBundle(b: SignedBundle): string {
  return `${JSON.stringify({ format: BUNDLE_ENVELOPE, digest: b.digest, signature: b.signature })}\n${JSON.stringify(contentOf(b))}`;
}

/** Splits a stored bundle into its parsed header and its raw content text. Throws on a malformed file. */
export function splitBundle(text: string): {
  header: { format?: unknown; digest?: unknown; signature?: unknown };
  contentText: string;
} {
  const nl = text.indexOf('\n');
  if (nl < 0) throw new Error('bundle is malformed');
  const header = JSON.parse(text.slice(0, nl)) as { format?: unknown; digest?: unknown; signature?: unknown };
  if (!header || typeof header !== 'object') throw new Error('bundle is malformed');
  return { header, contentText: text.slice(nl + 1) };
}

/** Parses a stored bundle without verifying it (authoring reads: diff, listing). */
export function decodeBundle(text: string): SignedBundle {
  const { header, contentText } = splitBundle(text);
  return {
    ...(JSON.parse(contentText) as BundleContent),
    digest: header.digest as string,
    signature: header.signature as BundleSignature,
  };
}

/** Splits a signed bundle into its content (what the digest covers). */
export function contentOf(b: SignedBundle): BundleContent {
  const { digest: _d, signature: _s, ...content } = b;
  return content;
}

/**
 * Validates strictly (schema parses, policies parse and validate against it in strict mode,
 * entities conform) and compiles the bundle. Pure: stores nothing.
 */
export function compileBundle(
  input: BundleInput,
  meta: { tenantId: string; bundleId: string; version: number; createdAt: string; revokedAgentIds: readonly string[] },
): CompileOutcome {
  let schema: string;
  let policyText: string;
  let entities: readonly unknown[] = [];
  let risk: readonly RiskPolicy[] = [];
  let patterns: readonly string[] = [];
  if (input.format === 'yaml') {
    try {
      const c = compileYamlPolicy(input.document);
      ({ schema } = c);
      policyText = c.policies;
      risk = c.risk;
      patterns = c.actionPatterns;
    } catch (e) {
      if (e instanceof YamlPolicyError)
        return { ok: false, errors: e.errors.map((x) => ({ path: `document.${x.path}`, message: x.message })) };
      throw e;
    }
  } else {
    schema = input.schema;
    policyText = input.policies;
    entities = input.entities ?? [];
  }
  const errors = validateCedar(schema, policyText, entities);
  if (errors.length) return { ok: false, errors };
  let policies: IndexedPolicy[];
  try {
    policies = indexPolicies(policyText);
  } catch (e) {
    if (e instanceof PolicyParseError)
      return { ok: false, errors: e.errors.map((m) => ({ path: 'policies', message: m })) };
    throw e;
  }
  if (policies.length === 0)
    return {
      ok: false,
      errors: [{ path: 'policies', message: 'a bundle needs at least one policy (an empty store forbids everything)' }],
    };
  return {
    ok: true,
    content: {
      format_version: BUNDLE_FORMAT,
      tenant_id: meta.tenantId,
      bundle_id: meta.bundleId,
      version: meta.version,
      created_at: meta.createdAt,
      source_format: input.format,
      schema,
      policies,
      entities: entities as EntityJson[],
      risk,
      action_patterns: patterns,
      revoked_bloom: buildBloom(meta.revokedAgentIds.map((a) => bloomItem(meta.tenantId, a))),
      ...(input.format === 'yaml' ? { source: input.document } : {}),
    },
  };
}

/** Cedar's own checks, in order; returns every message (empty when valid). */
export function validateCedar(schema: string, policies: string, entities: readonly unknown[]): BundleProblem[] {
  const s = cedar.checkParseSchema(schema);
  if (s.type === 'failure') return messages(s.errors).map((message) => ({ path: 'schema', message }));
  const p = cedar.checkParsePolicySet({ staticPolicies: policies });
  if (p.type === 'failure') return messages(p.errors).map((message) => ({ path: 'policies', message }));
  const out: BundleProblem[] = [];
  const v = cedar.validate({ schema, policies: { staticPolicies: policies }, validationSettings: { mode: 'strict' } });
  if (v.type === 'failure') out.push(...messages(v.errors).map((message) => ({ path: 'policies', message })));
  else
    for (const e of v.validationErrors) out.push({ path: `policies.${e.policyId}`, message: messages([e.error])[0]! });
  const en = cedar.checkParseEntities({ entities: entities as EntityJson[], schema });
  if (en.type === 'failure') out.push(...messages(en.errors).map((message) => ({ path: 'entities', message })));
  return out;
}

export interface BundleDiff {
  readonly from: { bundle_id: string; version: number };
  readonly to: { bundle_id: string; version: number };
  readonly added: readonly { id: string; effect: string; text: string }[];
  readonly removed: readonly { id: string; effect: string; text: string }[];
  readonly changed: readonly { id: string; before: string; after: string }[];
  readonly unchanged: number;
  readonly schema_changed: boolean;
  readonly entities_changed: boolean;
  readonly risk_changed: boolean;
}

/** Policy-by-policy comparison of `to` against `from` (policies matched by id). */
export function diffBundles(from: BundleContent, to: BundleContent): BundleDiff {
  const a = new Map(from.policies.map((p) => [p.id, p]));
  const b = new Map(to.policies.map((p) => [p.id, p]));
  const added = [...b.values()].filter((p) => !a.has(p.id)).map((p) => ({ id: p.id, effect: p.effect, text: p.text }));
  const removed = [...a.values()]
    .filter((p) => !b.has(p.id))
    .map((p) => ({ id: p.id, effect: p.effect, text: p.text }));
  const changed: { id: string; before: string; after: string }[] = [];
  let unchanged = 0;
  for (const [id, p] of b) {
    const old = a.get(id);
    if (!old) continue;
    if (old.text.trim() === p.text.trim()) unchanged++;
    else changed.push({ id, before: old.text, after: p.text });
  }
  return {
    from: { bundle_id: from.bundle_id, version: from.version },
    to: { bundle_id: to.bundle_id, version: to.version },
    added,
    removed,
    changed,
    unchanged,
    schema_changed: from.schema !== to.schema,
    entities_changed: canonicalJson(from.entities) !== canonicalJson(to.entities),
    risk_changed: canonicalJson(from.risk) !== canonicalJson(to.risk),
  };
}
