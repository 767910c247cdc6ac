import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../support/clock.js';
import {
  CredentialBroker,
  sessionPolicy,
  type StsPort,
  type OAuthPort,
  type CredentialBindingRecord,
  type RegisteredRole,
  type AllowedTokenEndpoint,
  type IssuedTokenRecord,
  type SessionRevokerPort,
} from '../../../lambdas/identity/core/broker.js';

const ROLE_A = 'arn:aws:iam::123456789012:role/r';
const ROLE_B = 'arn:aws:iam::210987654321:role/tenant-b-connector';

function setup(opts: { allowLoopback?: boolean } = {}) {
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const stsCalls: Parameters<StsPort['assumeRole']>[0][] = [];
  const oauthCalls: Parameters<OAuthPort['clientCredentials']>[0][] = [];
  const bindings: CredentialBindingRecord[] = [];
  let status: 'active' | 'inactive' | 'unknown' = 'active';
  let n = 0;
  const roles: RegisteredRole[] = [
    { tenant_id: 'acme', name: 'default', role_arn: ROLE_A, updated_at: '2026-03-01T00:00:00Z', updated_by: 'admin' },
    { tenant_id: 'globex', name: 'default', role_arn: ROLE_B, updated_at: '2026-03-01T00:00:00Z', updated_by: 'admin' },
  ];
  const endpoints: AllowedTokenEndpoint[] = [
    {
      tenant_id: 'acme',
      name: 'as',
      token_endpoint: 'https://as.example/token',
      revocation_endpoint: 'https://as.example/revoke',
      updated_at: '',
      updated_by: 'admin',
    },
    {
      tenant_id: 'acme',
      name: 'local',
      token_endpoint: 'http://127.0.0.1:9/token',
      updated_at: '',
      updated_by: 'admin',
    },
  ];
  const tokens: IssuedTokenRecord[] = [];
  const denies: Parameters<SessionRevokerPort['denyOlderSessions']>[0][] = [];
  const revocations: Parameters<NonNullable<OAuthPort['revoke']>>[0][] = [];
  const secretReads: string[] = [];
  const broker = new CredentialBroker({
    registry: {
      roleByName: async (t, name) => roles.find((r) => r.tenant_id === t && r.name === name) ?? null,
      roleByArn: async (t, arn) => roles.find((r) => r.tenant_id === t && r.role_arn === arn) ?? null,
      listRoles: async (t) => roles.filter((r) => r.tenant_id === t),
      externalId: async (t) => `ext-${t}`,
      tokenEndpoint: async (t, url) => endpoints.find((e) => e.tenant_id === t && e.token_endpoint === url) ?? null,
    },
    issuedTokens: {
      record: async (r) => void tokens.push(r),
      list: async (t, a) => tokens.filter((r) => r.tenant_id === t && r.agent_id === a),
      remove: async (t, a, id) => {
        const i = tokens.findIndex((r) => r.tenant_id === t && r.agent_id === a && r.token_id === id);
        if (i >= 0) tokens.splice(i, 1);
      },
    },
    sessions: { denyOlderSessions: async (r) => void denies.push(r) },
    secrets: async (id) => {
      secretReads.push(id);
      return 'client-secret';
    },
    allowLoopback: opts.allowLoopback ?? false,
    sts: {
      assumeRole: async (req) => {
        stsCalls.push(req);
        return {
          accessKeyId: `AKIA${++n}`,
          secretAccessKey: 's',
          sessionToken: 't',
          expiration: new Date(clock.now().getTime() + 900_000),
        };
      },
    },
    oauth: {
      clientCredentials: async (req) => {
        oauthCalls.push(req);
        return { access_token: `at${++n}`, token_type: 'Bearer', expires_in: 45 };
      },
      revoke: async (req) => void revocations.push(req),
    },
    bindings: {
      record: async (b) => void bindings.push(b),
      revokeAll: async (t, a) => {
        const before = bindings.length;
        for (let i = bindings.length - 1; i >= 0; i--)
          if (bindings[i]!.tenant_id === t && bindings[i]!.agent_id === a) bindings.splice(i, 1);
        return before - bindings.length;
      },
    },
    agentStatus: async () => status,
    clock,
  });
  return {
    clock,
    broker,
    stsCalls,
    oauthCalls,
    bindings,
    roles,
    tokens,
    denies,
    revocations,
    secretReads,
    setStatus: (s: typeof status) => (status = s),
  };
}
const req = {
  tenantId: 'acme',
  agentId: 'agt_1',
  actions: ['iam:DeleteUser'],
  resources: ['arn:aws:iam::123456789012:user/u'],
};

describe('CredentialBroker', () => {
  it('never serves a cached credential older than 60 s', async () => {
    const s = setup();
    const a = await s.broker.awsCredentials(req);
    s.clock.advance(59_000);
    expect((await s.broker.awsCredentials(req)).accessKeyId).toBe(a.accessKeyId);
    s.clock.advance(1_000);
    expect((await s.broker.awsCredentials(req)).accessKeyId).not.toBe(a.accessKeyId);
    expect(s.stsCalls).toHaveLength(2);
  });

  it('caches an OAuth token only until 30 s before it expires', async () => {
    const s = setup();
    const r = {
      tenantId: 'acme',
      agentId: 'agt_1',
      tokenEndpoint: 'https://as.example/token',
      clientId: 'c',
      clientSecretId: 'arx/acme/oauth/crm',
      resource: 'https://api.example/',
    };
    const a = await s.broker.issueOAuth(r);
    s.clock.advance(10_000);
    expect((await s.broker.issueOAuth(r)).cached).toBe(true);
    s.clock.advance(6_000);
    expect((await s.broker.issueOAuth(r)).token).not.toEqual(a.token);
    expect(s.oauthCalls.every((c) => c.resource === 'https://api.example/')).toBe(true);
  });

  it('refuses to issue for an inactive agent (403) and fails closed when its state is unknown (503), even from the cache', async () => {
    const s = setup();
    await s.broker.awsCredentials(req);
    s.setStatus('inactive');
    await expect(s.broker.awsCredentials(req)).rejects.toMatchObject({ status: 403 });
    s.setStatus('unknown');
    await expect(s.broker.awsCredentials(req)).rejects.toMatchObject({ status: 503 });
    expect(s.stsCalls).toHaveLength(1);
  });

  it('evicts only the revoked agent’s cached credentials and deletes its bindings', async () => {
    const s = setup();
    await s.broker.awsCredentials(req);
    await s.broker.awsCredentials({ ...req, agentId: 'agt_2' });
    expect(await s.broker.revokeAgentCredentials('acme', 'agt_1')).toMatchObject({
      cache_evicted: 1,
      bindings_revoked: 1,
    });
    expect(s.broker.cacheSize()).toBe(1);
    expect(s.bindings.map((b) => b.agent_id)).toEqual(['agt_2']);
  });

  it('refuses plain-http token endpoints other than loopback and fragment resources', async () => {
    const s = setup();
    const base = { tenantId: 'acme', agentId: 'agt_1', clientId: 'c', clientSecretId: 'arx/acme/oauth/crm' };
    await expect(
      s.broker.issueOAuth({ ...base, tokenEndpoint: 'http://as.example/token', resource: 'https://api.example/' }),
    ).rejects.toMatchObject({ status: 400 });
    await expect(
      s.broker.issueOAuth({ ...base, tokenEndpoint: 'https://as.example/token', resource: 'https://api.example/#x' }),
    ).rejects.toMatchObject({ status: 400 });
    expect(s.oauthCalls).toHaveLength(0);
  });
});

describe('CredentialBroker tenancy (F1)', () => {
  it("F1: refuses a role registered to another tenant, by ARN or by the caller's own default", async () => {
    const s = setup();
    // Tenant acme names globex's connector role: not in acme's registry → 403, nothing sent to STS.
    await expect(s.broker.awsCredentials({ ...req, roleArn: ROLE_B })).rejects.toMatchObject({ status: 403 });
    // A tenant without a registered role gets nothing (no shared fallback role).
    await expect(s.broker.awsCredentials({ ...req, tenantId: 'initech' })).rejects.toMatchObject({ status: 403 });
    expect(s.stsCalls).toHaveLength(0);
    await s.broker.awsCredentials(req);
    expect(s.stsCalls[0]).toMatchObject({ roleArn: ROLE_A, sourceIdentity: 'agt_1' });
  });

  it('F1: always sends the external id ARX generated for the tenant, never the one a caller supplies', async () => {
    const s = setup();
    await s.broker.awsCredentials({ ...req, externalId: 'guessed-external-id-of-b' });
    expect(s.stsCalls[0]!.externalId).toBe('ext-acme');
  });

  it('F1: refuses "*" and "?" inside action names and resource ARNs (s3:Get*, iam:*User*, arn:aws:s3:::*)', async () => {
    const s = setup();
    for (const actions of [['s3:Get*'], ['iam:*User*'], ['s3:*'], ['*'], ['s3:GetObjec?']]) {
      await expect(s.broker.awsCredentials({ ...req, actions })).rejects.toMatchObject({ status: 400 });
    }
    for (const resources of [
      ['arn:aws:s3:::*'],
      ['*'],
      ['arn:aws:s3:::bucket/*'],
      ['arn:aws:iam::123456789012:user/*'],
      ['arn:aws:iam::*:user/*'],
      ['arn:aws:s3:::b?cket'],
    ]) {
      await expect(s.broker.awsCredentials({ ...req, resources })).rejects.toMatchObject({ status: 400 });
    }
    expect(s.stsCalls).toHaveLength(0);
  });

  it('F1: the vetted wildcard (account of one named IAM user) is replaced by the role account, so STS sees no wildcard', async () => {
    const s = setup();
    await s.broker.awsCredentials({ ...req, resources: ['arn:aws:iam::*:user/leaver'] });
    const policy = JSON.parse(s.stsCalls[0]!.policy);
    expect(policy.Statement[0].Resource).toEqual(['arn:aws:iam::123456789012:user/leaver']);
    expect(s.stsCalls[0]!.policy).not.toContain('*');
  });
});

describe('CredentialBroker OAuth (F12b)', () => {
  const base = { tenantId: 'acme', agentId: 'agt_1', clientId: 'c', resource: 'https://api.example/' };

  it('F12b: refuses a client secret outside arx/<tenant>/oauth/ (e.g. the Slack bot token) without reading it', async () => {
    const s = setup();
    for (const clientSecretId of [
      'arx/acme/slack',
      'arx/acme/okta',
      'arx/globex/oauth/crm',
      'arx/acme/oauth/',
      'arx/acme/oauth/../slack',
    ]) {
      await expect(
        s.broker.issueOAuth({ ...base, tokenEndpoint: 'https://as.example/token', clientSecretId }),
      ).rejects.toMatchObject({ status: 404 });
    }
    expect(s.secretReads).toEqual([]);
    expect(s.oauthCalls).toHaveLength(0);
  });

  it("F12b: refuses a token endpoint that is not on the tenant's allowlist (the attacker's https server)", async () => {
    const s = setup();
    await expect(
      s.broker.issueOAuth({
        ...base,
        tokenEndpoint: 'https://attacker.example/t',
        clientSecretId: 'arx/acme/oauth/crm',
      }),
    ).rejects.toMatchObject({ status: 403 });
    expect(s.secretReads).toEqual([]);
    expect(s.oauthCalls).toHaveLength(0);
  });

  it('F12b: a loopback token endpoint is refused unless running locally, even when allowlisted', async () => {
    const deployed = setup({ allowLoopback: false });
    await expect(
      deployed.broker.issueOAuth({
        ...base,
        tokenEndpoint: 'http://127.0.0.1:9/token',
        clientSecretId: 'arx/acme/oauth/crm',
      }),
    ).rejects.toMatchObject({ status: 400 });
    expect(deployed.oauthCalls).toHaveLength(0);
    const local = setup({ allowLoopback: true });
    await local.broker.issueOAuth({
      ...base,
      tokenEndpoint: 'http://127.0.0.1:9/token',
      clientSecretId: 'arx/acme/oauth/crm',
    });
    expect(local.oauthCalls).toHaveLength(1);
  });
});

describe('CredentialBroker revocation (F6)', () => {
  it('F6: denies older sessions of the agent on every registered role of the tenant and revokes its OAuth tokens (RFC 7009)', async () => {
    const s = setup();
    await s.broker.awsCredentials(req);
    await s.broker.issueOAuth({
      tenantId: 'acme',
      agentId: 'agt_1',
      tokenEndpoint: 'https://as.example/token',
      clientId: 'c',
      clientSecretId: 'arx/acme/oauth/crm',
      resource: 'https://api.example/',
    });
    await s.broker
      .issueOAuth({
        tenantId: 'acme',
        agentId: 'agt_1',
        tokenEndpoint: 'http://127.0.0.1:9/token',
        clientId: 'c',
        clientSecretId: 'arx/acme/oauth/crm',
        resource: 'https://api.example/',
      })
      .catch(() => undefined);
    const out = await s.broker.revokeAgentCredentials('acme', 'agt_1');
    expect(out).toEqual({
      cache_evicted: 2,
      bindings_revoked: 2,
      sessions_denied_roles: 1,
      oauth_tokens_revoked: 1,
      oauth_tokens_unrevocable: 0,
      refresh_tokens_revoked: 0,
    });
    expect(s.denies).toEqual([
      { roleArn: ROLE_A, externalId: 'ext-acme', sourceIdentity: 'agt_1', issuedBefore: s.clock.now() },
    ]);
    expect(s.revocations).toEqual([
      {
        revocationEndpoint: 'https://as.example/revoke',
        clientId: 'c',
        clientSecret: 'client-secret',
        token: 'at2',
        tokenTypeHint: 'access_token',
      },
    ]);
    expect(s.tokens).toHaveLength(0);
  });

  it('F6: a failed role deny or token revocation fails the step (503) after trying the rest, so the saga retries', async () => {
    const s = setup();
    await s.broker.issueOAuth({
      tenantId: 'acme',
      agentId: 'agt_1',
      tokenEndpoint: 'https://as.example/token',
      clientId: 'c',
      clientSecretId: 'arx/acme/oauth/crm',
      resource: 'https://api.example/',
    });
    const broken = new CredentialBroker({
      ...(s.broker as unknown as { deps: ConstructorParameters<typeof CredentialBroker>[0] }).deps,
      sessions: { denyOlderSessions: async () => Promise.reject(new Error('iam down')) },
    });
    await expect(broken.revokeAgentCredentials('acme', 'agt_1')).rejects.toMatchObject({ status: 503 });
    // The token was still revoked although the role deny failed.
    expect(s.revocations).toHaveLength(1);
  });
});

describe('sessionPolicy', () => {
  it('allows exactly the listed actions on exactly the listed resources', () => {
    expect(JSON.parse(sessionPolicy(['s3:DeleteBucket', 's3:DeleteBucket'], ['arn:aws:s3:::b']))).toEqual({
      Version: '2012-10-17',
      Statement: [
        { Sid: 'ArxActionScope', Effect: 'Allow', Action: ['s3:DeleteBucket'], Resource: ['arn:aws:s3:::b'] },
      ],
    });
    expect(() => sessionPolicy([], ['arn:aws:s3:::b'])).toThrow();
    expect(() => sessionPolicy(['*'], ['arn:aws:s3:::b'])).toThrow();
  });
});

describe('isLocalRuntime (F12b, F22)', () => {
  it('F12b: the loopback exemption holds only with an emulated AWS outside a Lambda execution environment', async () => {
    const { isLocalRuntime } = await import('../../../lambdas/identity/broker.js');
    expect(isLocalRuntime({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000' })).toBe(true);
    expect(isLocalRuntime({})).toBe(false);
    expect(isLocalRuntime({ AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' })).toBe(false);
    expect(
      isLocalRuntime({ AWS_ENDPOINT_URL: 'http://127.0.0.1:5000', AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x' }),
    ).toBe(false);
  });
});
