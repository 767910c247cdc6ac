import { fileURLToPath } from 'node:url';
import { describe, it, expect } from 'vitest';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { PolicyEngine, indexPolicies } from '../../../lambdas/policy/core/engine.js';
import { validateCedar } from '../../../lambdas/policy/core/bundle.js';
import type { EntityJson } from '../../../lambdas/policy/core/cedar.js';

/** Cedar's handwritten integration tests, used in place (../shared/vectors). */
const ROOT = fileURLToPath(new URL('../../../../shared/vectors/cedar-integration-tests', import.meta.url));

interface CorpusRequest {
  description: string;
  principal: { type: string; id: string };
  action: { type: string; id: string };
  resource: { type: string; id: string };
  context: Record<string, unknown>;
  validateRequest?: boolean;
  decision: 'allow' | 'deny';
  reason: string[];
  errors: string[];
}
interface CorpusTest {
  policies: string;
  entities: string;
  schema: string;
  shouldValidate: boolean;
  requests: CorpusRequest[];
}

const files = readdirSync(join(ROOT, 'tests')).flatMap((d) =>
  readdirSync(join(ROOT, 'tests', d))
    .filter((f) => f.endsWith('.json'))
    .map((f) => join('tests', d, f)),
);

describe('PolicyEngine on the Cedar integration corpus', () => {
  it('finds the handwritten corpus', () => {
    expect(files.length).toBe(22);
  });

  for (const file of files) {
    it(`matches every expected decision, reason and error set in ${file}`, () => {
      const t = JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as CorpusTest;
      const schema = readFileSync(join(ROOT, t.schema), 'utf8');
      const entities = JSON.parse(readFileSync(join(ROOT, t.entities), 'utf8')) as EntityJson[];
      const policyText = readFileSync(join(ROOT, t.policies), 'utf8');
      expect(validateCedar(schema, policyText, []).length === 0, `${file}: shouldValidate`).toBe(t.shouldValidate);
      const engine = new PolicyEngine({ policies: indexPolicies(policyText), entities, schema, useSchema: true });
      try {
        for (const r of t.requests) {
          const got = engine.authorize({
            principal: r.principal,
            action: r.action,
            resource: r.resource,
            context: r.context as never,
            validateRequest: r.validateRequest ?? false,
          });
          expect(got.type, r.description).toBe('response');
          if (got.type !== 'response') continue;
          expect(
            {
              d: got.decision,
              reason: [...got.reason].sort(),
              errors: [...new Set(got.errors.map((e) => e.policyId))].sort(),
            },
            `${file}: ${r.description}`,
          ).toEqual({
            d: r.decision,
            reason: [...r.reason].sort(),
            errors: [...r.errors].sort(),
          });
        }
      } finally {
        engine.dispose();
      }
    });
  }
});
