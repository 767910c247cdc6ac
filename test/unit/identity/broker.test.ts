import { describe, expect, it } from 'vitest';
import { ManualClock } from '../../../lambdas/shared/clock.js';
import { CredentialBroker, sessionPolicy, type StsPort, type OAuthPort, type CredentialBindingRecord } from '../../../lambdas/identity/core/broker.js';

function setup() {
  const clock = new ManualClock(Date.parse('2026-03-01T12:00:00Z'));
  const stsCalls: Parameters<StsPort['assumeRole']>[0][] = [];
  const oauthCalls: Parameters<OAuthPort['clientCredentials']>[0][] = [];
  const bindings: CredentialBindingRecord[] = [];
  let status: 'active' | 'inactive' | 'unknown' = 'active';
  let n = 0;
  const broker = new CredentialBroker({
    sts: {
      assumeRole: async (req) => {
        stsCalls.push(req);
        return { accessKeyId: `AKIA${++n}`, secretAccessKey: 's', sessionToken: 't', expiration: new Date(clock.now().getTime() + 900_000) };
      },
    },
    oauth: {
      clientCredentials: async (req) => {
        oauthCalls.push(req);
        return { access_token: `at${++n}`, token_type: 'Bearer', expires_in: 45 };
      },
    },
    bindings: {
      record: async (b) => void bindings.push(b),
      revokeAll: async (t, a) => {
        const before = bindings.length;
        for (let i = bindings.length - 1; i >= 0; i--) if (bindings[i]!.tenant_id === t && bindings[i]!.agent_id === a) bindings.splice(i, 1);
        return before - bindings.length;
      },
    },
    agentStatus: async () => status,
    clock,
    defaultRoleArn: 'arn:aws:iam::123456789012:role/r',
  });
  return { clock, broker, stsCalls, oauthCalls, bindings, setStatus: (s: typeof status) => (status = s) };
}
const req = { tenantId: 'acme', agentId: 'agt_1', actions: ['iam:DeleteUser'], resources: ['arn:aws:iam::123456789012:user/u'] };

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
    const r = { tenantId: 'acme', agentId: 'agt_1', tokenEndpoint: 'https://as.example/token', clientId: 'c', clientSecret: 'x', resource: 'https://api.example/' };
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
    expect(await s.broker.revokeAgentCredentials('acme', 'agt_1')).toEqual({ cache_evicted: 1, bindings_revoked: 1 });
    expect(s.broker.cacheSize()).toBe(1);
    expect(s.bindings.map((b) => b.agent_id)).toEqual(['agt_2']);
  });

  it('refuses plain-http token endpoints other than loopback and fragment resources', async () => {
    const s = setup();
    const base = { tenantId: 'acme', agentId: 'agt_1', clientId: 'c', clientSecret: 'x' };
    await expect(s.broker.issueOAuth({ ...base, tokenEndpoint: 'http://as.example/token', resource: 'https://api.example/' })).rejects.toMatchObject({ status: 400 });
    await expect(s.broker.issueOAuth({ ...base, tokenEndpoint: 'https://as.example/token', resource: 'https://api.example/#x' })).rejects.toMatchObject({ status: 400 });
    expect(s.oauthCalls).toHaveLength(0);
  });
});

describe('sessionPolicy', () => {
  it('allows exactly the listed actions on exactly the listed resources', () => {
    expect(JSON.parse(sessionPolicy(['s3:DeleteBucket', 's3:DeleteBucket'], ['arn:aws:s3:::b']))).toEqual({
      Version: '2012-10-17',
      Statement: [{ Sid: 'ArxActionScope', Effect: 'Allow', Action: ['s3:DeleteBucket'], Resource: ['arn:aws:s3:::b'] }],
    });
    expect(() => sessionPolicy([], ['arn:aws:s3:::b'])).toThrow();
    expect(() => sessionPolicy(['*'], ['arn:aws:s3:::b'])).toThrow();
  });
});
