import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort } from '../../../local/moto.js';
import { startLocalRuntime, type LocalRuntime } from '../../../local/runtime.js';
import { ConfigError } from '../../../lambdas/shared/settings.js';
import { testTemplate, type Template } from '../../support/template.js';

/** The stack's template with one variable taken off one function (as if its `uses` entry were missing). */
function withoutVariable(fnName: string, variable: string): Template {
  const t = structuredClone(testTemplate());
  const fn = Object.values(t.Resources).find(
    (r) => r.Type === 'AWS::Lambda::Function' && r.Properties?.Environment?.Variables?.ARX_FUNCTION_NAME === fnName,
  );
  if (!fn?.Properties.Environment.Variables[variable]) throw new Error(`${fnName} carries no ${variable}`);
  delete fn.Properties.Environment.Variables[variable];
  return t;
}

const start = async (template: Template): Promise<LocalRuntime> =>
  startLocalRuntime({
    template,
    port: await freePort(),
    prefix: `t${randomBytes(4).toString('hex')}`,
    background: false,
  });

const chainStatus = async (rt: LocalRuntime): Promise<{ status: number; body: any }> => {
  const token = await rt.idp.token({ sub: 'audrey', tenant: 'acme', roles: ['auditor'] });
  const res = await fetch(`${rt.url}/v1/audit/chain/status`, { headers: { authorization: `Bearer ${token}` } });
  return { status: res.status, body: await res.json() };
};

describe('LocalRuntime: each handler runs with only its own function environment', () => {
  let normal: LocalRuntime;
  let missing: LocalRuntime;

  beforeAll(async () => {
    normal = await start(testTemplate());
    // audit-api loses ARX_AUDIT_BUCKET; the sealer, compliance-api and the attestation step still carry it.
    missing = await start(withoutVariable('audit-api', 'ARX_AUDIT_BUCKET'));
  }, 240_000);
  afterAll(async () => {
    await normal?.stop();
    await missing?.stop();
  });

  it('answers the call with the normal template', async () => {
    const r = await chainStatus(normal);
    expect(r.status).toBe(200);
    expect(r.body).toMatchObject({ height: expect.any(Number), pending_events: expect.any(Number) });
    expect(normal.functionEnv('audit-api').ARX_AUDIT_BUCKET).toBeTruthy();
  });

  it('fails the same call when the function lacks the variable, even though other functions carry it', async () => {
    // Arrange: the union of all environments (what the runtime used to give every handler) still has it.
    expect(missing.env.ARX_AUDIT_BUCKET).toBeTruthy();
    expect(missing.functionEnv('audit-api').ARX_AUDIT_BUCKET).toBeUndefined();

    // Act + Assert: over HTTP, a Lambda INIT failure behind API Gateway is a bare 500 …
    const r = await chainStatus(missing);
    expect(r.status).toBe(500);
    expect(r.body).toEqual({ message: 'Internal Server Error' });
    // … and invoked directly, the function's error is the config error naming the variable.
    const err = await missing.invoke('audit-api', {}).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as Error).message).toBe('missing required environment variable(s): ARX_AUDIT_BUCKET');
  });

  it('keeps the other functions of that runtime working', async () => {
    const token = await missing.idp.token({ sub: 'alice', tenant: 'acme', roles: ['admin'] });
    const res = await fetch(`${missing.url}/v1/discovery/agents`, { headers: { authorization: `Bearer ${token}` } });
    expect(res.status).toBe(200);
  });

  it('gives each function exactly the variables of its own template entry', () => {
    // Each function environment is exactly its template entry (plus the local IdP, prefix and extras).
    const sealer = normal.functionEnv('audit-sealer');
    expect(sealer.ARX_FUNCTION_NAME).toBe('audit-sealer');
    expect(sealer.ARX_TERMINATION_STATE_MACHINE_ARN).toBeUndefined();
    expect(normal.functionEnv('killswitch-api').ARX_TERMINATION_STATE_MACHINE_ARN).toBeTruthy();
  });
});
