import { fileURLToPath } from 'node:url';
import { describe, it, expect, beforeAll, afterAll } from 'vitest';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PolicyEngine, indexPolicies } from '../../../lambdas/policy/core/engine.js';
import { cedar, type EntityJson } from '../../../lambdas/policy/core/cedar.js';

/**
 * Cedar's fuzzer-generated corpus (corpus-tests.tar.gz, 7,809 tests), extracted to a temp dir at
 * test time. The suite runs a deterministic 1-in-25 sample through the indexed engine; the whole
 * corpus was run the same way once (see the policy report): every request matches except those
 * whose entities hold integers beyond ±2^53, which the JS/wasm boundary cannot carry (raw
 * cedar-wasm refuses them too).
 */
const TARBALL = fileURLToPath(
  new URL('../../../../shared/vectors/cedar-integration-tests/corpus-tests.tar.gz', import.meta.url),
);
const EVERY = 25;

interface Req {
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

describe('PolicyEngine on the generated Cedar corpus (sample)', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'cedar-corpus-'));
    execFileSync('tar', ['xzf', TARBALL, '-C', dir]);
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it(`matches Cedar's expected decision, reasons and errors on every ${EVERY}th test`, () => {
    const files = readdirSync(join(dir, 'corpus-tests'))
      .filter((f) => f.endsWith('.json') && !f.endsWith('.entities.json'))
      .sort()
      .filter((_, i) => i % EVERY === 0);
    let requests = 0;
    const inexpressible: string[] = [];
    const mismatches: string[] = [];
    for (const f of files) {
      const t = JSON.parse(readFileSync(join(dir, 'corpus-tests', f), 'utf8')) as {
        policies: string;
        entities: string;
        schema: string;
        requests: Req[];
      };
      const schema = readFileSync(join(dir, t.schema), 'utf8');
      const policies = readFileSync(join(dir, t.policies), 'utf8');
      const entities = JSON.parse(readFileSync(join(dir, t.entities), 'utf8')) as EntityJson[];
      const engine = new PolicyEngine({ policies: indexPolicies(policies), entities, schema, useSchema: true });
      try {
        for (const r of t.requests) {
          requests++;
          const got = engine.authorize({
            principal: r.principal,
            action: r.action,
            resource: r.resource,
            context: r.context as never,
            validateRequest: r.validateRequest ?? false,
          });
          const want = `${r.decision}|${[...r.reason].sort()}|${[...r.errors].sort()}`;
          const have =
            got.type === 'response'
              ? `${got.decision}|${[...got.reason].sort()}|${[...new Set(got.errors.map((e) => e.policyId))].sort()}`
              : `failure`;
          if (want === have) continue;
          const raw = cedar.isAuthorized({
            principal: r.principal,
            action: r.action,
            resource: r.resource,
            context: r.context as never,
            schema,
            validateRequest: r.validateRequest ?? false,
            policies: { staticPolicies: policies },
            entities,
          });
          if (
            got.type === 'failure' &&
            raw.type === 'failure' &&
            /did not match any variant|entity deserialization/.test(got.errors.join())
          )
            inexpressible.push(`${f} ${r.description}`);
          else mismatches.push(`${f} ${r.description}: want ${want}, got ${have}`);
        }
      } finally {
        engine.dispose();
      }
    }
    expect(files.length).toBeGreaterThan(300);
    expect(requests).toBeGreaterThan(2000);
    expect(mismatches).toEqual([]);
    expect(inexpressible.length).toBeLessThan(requests * 0.01);
  }, 240_000);
});
