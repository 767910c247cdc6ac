import { describe, it, expect } from 'vitest';
import {
  compileBundle,
  contentOf,
  diffBundles,
  digestOf,
  type BundleContent,
} from '../../../lambdas/policy/core/bundle.js';
import { verifyBundle } from '../../../lambdas/policy/core/signing.js';
import { BloomFilter, bloomItem } from '../../../lambdas/policy/core/bloom.js';
import { LocalSigner, OKTA_YAML } from './helpers.js';

const meta = (v = 1, revoked: string[] = []) => ({
  tenantId: 't1',
  bundleId: `pb_${v}`,
  version: v,
  createdAt: '2026-01-01T00:00:00.000Z',
  revokedAgentIds: revoked,
});
const SCHEMA =
  'entity Agent = { "status": String }; entity Doc; action "docs:files:read" appliesTo { principal: [Agent], resource: [Doc] };';

function ok(content: ReturnType<typeof compileBundle>): BundleContent {
  if (!content.ok) throw new Error(JSON.stringify(content.errors));
  return content.content;
}

describe('compileBundle', () => {
  it('compiles a Cedar bundle, indexing each policy by its @id', () => {
    const c = ok(
      compileBundle(
        {
          format: 'cedar',
          schema: SCHEMA,
          policies: '@id("allow-read") permit(principal, action == Action::"docs:files:read", resource);',
          entities: [],
        },
        meta(),
      ),
    );
    expect(c.policies.map((p) => p.id)).toEqual(['allow-read']);
    expect(c.policies[0]!.actions).toEqual(['Action::"docs:files:read"']);
  });

  it("returns Cedar's validation messages and no content for a policy that does not type-check", () => {
    const r = compileBundle(
      {
        format: 'cedar',
        schema: SCHEMA,
        policies: 'permit(principal, action, resource) when { principal.colour == "red" };',
      },
      meta(),
    );
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.errors[0]!.message).toMatch(/colour/);
  });

  it('rejects an unparsable schema, unparsable policies and nonconforming entities', () => {
    expect(
      compileBundle({ format: 'cedar', schema: 'entity {', policies: 'permit(principal, action, resource);' }, meta())
        .ok,
    ).toBe(false);
    expect(
      compileBundle({ format: 'cedar', schema: SCHEMA, policies: 'permit(principal, action, resource' }, meta()).ok,
    ).toBe(false);
    const badEntities = compileBundle(
      {
        format: 'cedar',
        schema: SCHEMA,
        policies: 'permit(principal, action, resource);',
        entities: [{ uid: { type: 'Agent', id: 'a' }, attrs: { status: 3 }, parents: [] }],
      },
      meta(),
    );
    expect(badEntities.ok).toBe(false);
  });

  it('rejects an empty policy set (an empty store would forbid everything)', () => {
    const r = compileBundle({ format: 'cedar', schema: SCHEMA, policies: '// nothing\n' }, meta());
    expect(r.ok).toBe(false);
  });

  it('bakes the revoked agent ids into a per-tenant Bloom filter', () => {
    const c = ok(compileBundle({ format: 'yaml', document: OKTA_YAML }, meta(1, ['agt_bad'])));
    const bloom = new BloomFilter(c.revoked_bloom);
    expect(bloom.mightContain(bloomItem('t1', 'agt_bad'))).toBe(true);
    expect(bloom.mightContain(bloomItem('t2', 'agt_bad'))).toBe(false);
    expect(bloom.mightContain(bloomItem('t1', 'agt_good'))).toBe(false);
  });
});

describe('digest and signature', () => {
  it('verifies a signed bundle and refuses any change to its content', async () => {
    const signer = new LocalSigner();
    const c = ok(compileBundle({ format: 'yaml', document: OKTA_YAML }, meta()));
    const digest = digestOf(c);
    const signed = { ...c, digest, signature: await signer.sign('t1', digest) };
    expect((await verifyBundle(signed, 't1', signer)).ok).toBe(true);
    expect(digestOf(contentOf(signed))).toBe(digest);
    const tampered = {
      ...signed,
      policies: signed.policies.map((p) => ({ ...p, text: p.text.replace('forbid', 'permit') })),
    };
    expect(await verifyBundle(tampered, 't1', signer)).toEqual({
      ok: false,
      reason: 'bundle digest does not match its content',
    });
    expect(await verifyBundle({ ...signed, tenant_id: 't2' }, 't2', signer)).toMatchObject({ ok: false });
    expect(await verifyBundle(signed, 't2', signer)).toEqual({ ok: false, reason: 'bundle belongs to another tenant' });
  });
});

describe('diffBundles', () => {
  it('lists added, removed and changed policies by id', () => {
    const a = ok(
      compileBundle(
        {
          format: 'cedar',
          schema: SCHEMA,
          policies:
            '@id("p1") permit(principal, action, resource);\n@id("p2") forbid(principal, action, resource) when { principal.status == "x" };',
        },
        meta(1),
      ),
    );
    const b = ok(
      compileBundle(
        {
          format: 'cedar',
          schema: SCHEMA,
          policies:
            '@id("p1") permit(principal, action, resource);\n@id("p2") forbid(principal, action, resource) when { principal.status == "y" };\n@id("p3") permit(principal, action, resource);',
        },
        meta(2),
      ),
    );
    const d = diffBundles(a, b);
    expect(d.added.map((p) => p.id)).toEqual(['p3']);
    expect(d.removed).toEqual([]);
    expect(d.changed.map((p) => p.id)).toEqual(['p2']);
    expect(d.unchanged).toBe(1);
    expect(d.schema_changed).toBe(false);
    expect(diffBundles(b, a).removed.map((p) => p.id)).toEqual(['p3']);
  });
});

describe('BloomFilter', () => {
  it('has no false negatives and few false positives over many ids', async () => {
    const { buildBloom } = await import('../../../lambdas/policy/core/bloom.js');
    const ids = Array.from({ length: 2000 }, (_, i) => `t|agt_${i}`);
    const f = new BloomFilter(buildBloom(ids));
    expect(ids.every((id) => f.mightContain(id))).toBe(true);
    const fp = Array.from({ length: 2000 }, (_, i) => `t|other_${i}`).filter((id) => f.mightContain(id)).length;
    expect(fp).toBeLessThan(60);
  });
});
