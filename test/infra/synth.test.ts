import { beforeAll, describe, expect, it, vi } from 'vitest';
import { TOPOLOGY } from '../../lambdas/topology.js';
import { synthTemplate } from '../../lib/synth.js';

// In-process CDK synthesis is CPU-bound and synchronous: allow for a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

let template: Record<string, any>;

beforeAll(() => {
  template = synthTemplate({ context: { 'arx:tenants': ['acme', 'globex'] } });
});

const resourcesOf = (type: string): [string, any][] =>
  Object.entries(template.Resources).filter(([, r]: [string, any]) => r.Type === type);

describe('synthTemplate', () => {
  it('returns the template with one function per topology entry, each named by ARX_FUNCTION_NAME', () => {
    const names = resourcesOf('AWS::Lambda::Function').map(
      ([, r]) => r.Properties.Environment.Variables.ARX_FUNCTION_NAME,
    );
    expect(names.sort()).toEqual(TOPOLOGY.functions.map((f) => f.name).sort());
  });

  it('keeps every environment value a literal or a plain Ref/Fn::GetAtt the local runtime can resolve', () => {
    for (const [id, r] of resourcesOf('AWS::Lambda::Function')) {
      for (const [k, v] of Object.entries(r.Properties.Environment.Variables as Record<string, unknown>)) {
        const plain =
          typeof v === 'string' ||
          (typeof v === 'object' && v !== null && Object.keys(v).length === 1 && ('Ref' in v || 'Fn::GetAtt' in v));
        expect(plain, `${id} ${k}=${JSON.stringify(v)}`).toBe(true);
      }
    }
  });

  it('applies context overrides: one aliased signing key and one output per tenant', () => {
    const aliases = resourcesOf('AWS::KMS::Alias').map(([, r]) => r.Properties.AliasName);
    expect(aliases).toEqual(expect.arrayContaining(['alias/arx/acme/signing', 'alias/arx/globex/signing']));
    expect(Object.keys(template.Outputs)).toEqual(
      expect.arrayContaining(['SigningKeyArnAcme', 'SigningKeyArnGlobex', 'ApiUrl']),
    );
    const signingKeys = resourcesOf('AWS::KMS::Key').filter(([, r]) => r.Properties.KeySpec === 'ECC_NIST_P256');
    expect(signingKeys).toHaveLength(2);
  });
});
