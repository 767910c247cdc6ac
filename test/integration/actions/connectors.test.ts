import { randomBytes } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DescribeInstancesCommand, EC2Client, RunInstancesCommand } from '@aws-sdk/client-ec2';
import { CreateUserCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { CreateBucketCommand, HeadBucketCommand, PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { AssumeRoleCommand, STSClient } from '@aws-sdk/client-sts';
import { awsConnector, MAX_OBJECT_BYTES } from '../../../lambdas/actions/connectors/aws.js';
import { httpConnector } from '../../../lambdas/actions/connectors/http.js';
import { oktaConnector } from '../../../lambdas/actions/connectors/okta.js';
import { SecretsManagerStore } from '../../../lambdas/actions/adapters/secrets.js';
import {
  ConnectorError,
  connectorSecretName,
  type ConnectorContext,
  type CredentialBroker,
} from '../../../lambdas/actions/core/model.js';
import { bindSecret } from '../../../lambdas/actions/core/guards.js';
import { fakeOkta, recordingServer } from './support.js';
import { agent, harness, manager, trace } from '../../unit/actions/fakes.js';

const tenant = `t-${randomBytes(4).toString('hex')}`;
const secrets = new SecretsManagerStore();

/** The broker port over STS AssumeRole with a per-action session policy (moto does not enforce it; we assert what we send). */
function stsBroker(seen: { policy?: string }[]): CredentialBroker {
  const sts = new STSClient({});
  return {
    async awsCredentials(req) {
      const policy = JSON.stringify({
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Action: req.actions, Resource: req.resources }],
      });
      seen.push({ policy });
      const r = await sts.send(
        new AssumeRoleCommand({
          RoleArn: req.roleArn ?? 'arn:aws:iam::123456789012:role/arx-actions',
          RoleSessionName: `arx-${req.agentId}`.slice(0, 64),
          Policy: policy,
          DurationSeconds: 900,
        }),
      );
      return {
        accessKeyId: r.Credentials!.AccessKeyId!,
        secretAccessKey: r.Credentials!.SecretAccessKey!,
        sessionToken: r.Credentials!.SessionToken!,
        expiration: r.Credentials!.Expiration!,
      };
    },
  };
}

function ctx(
  connector: string,
  config: Record<string, unknown> | null,
  extra: Partial<ConnectorContext> = {},
): ConnectorContext {
  return {
    tenantId: tenant,
    agentId: 'agt_1',
    actionId: 'act_1',
    correlationId: 'corr-1',
    traceparent: trace.traceparent,
    config,
    secret: () => secrets.get(connectorSecretName(tenant, connector)),
    credentials: stsBroker([]),
    fetch,
    ...extra,
  };
}

describe('okta connector against a local server answering Okta API paths', () => {
  let okta: Awaited<ReturnType<typeof recordingServer>>;
  let fake: ReturnType<typeof fakeOkta>;
  beforeAll(async () => {
    fake = fakeOkta('okta-token-1');
    okta = await recordingServer((c) => fake.handler(c));
    await secrets.put(connectorSecretName(tenant, 'okta'), { api_token: 'okta-token-1' });
  });
  afterAll(async () => okta?.close());

  it('lists users with SSWS auth, the trace context and the filter', async () => {
    const r = (await oktaConnector.execute(ctx('okta', { base_url: okta.url }), 'users:read', {
      filter: 'status eq "ACTIVE"',
    })) as { status: number; body: unknown[] };
    expect(r.status).toBe(200);
    expect(r.body).toHaveLength(3);
    const call = okta.calls.at(-1)!;
    expect(call.path).toBe('/api/v1/users?filter=status+eq+%22ACTIVE%22');
    expect(call.headers.authorization).toBe('SSWS okta-token-1');
    expect(call.headers.traceparent).toBe(trace.traceparent);
  });

  it('reads the secret at call time: a rotated token is used on the next call', async () => {
    await secrets.put(connectorSecretName(tenant, 'okta'), { api_token: 'rotated' });
    await expect(oktaConnector.execute(ctx('okta', { base_url: okta.url }), 'users:list', {})).rejects.toMatchObject({
      code: 'okta_401',
      retryable: false,
    });
    await secrets.put(connectorSecretName(tenant, 'okta'), { api_token: 'okta-token-1' });
    await expect(oktaConnector.execute(ctx('okta', { base_url: okta.url }), 'users:list', {})).resolves.toMatchObject({
      status: 200,
    });
  });

  it('deactivates, suspends and resets a password through the lifecycle endpoints', async () => {
    await oktaConnector.execute(ctx('okta', { base_url: okta.url }), 'users:deactivate', { user_id: '00u1' });
    await oktaConnector.execute(ctx('okta', { base_url: okta.url }), 'users:suspend', { user_id: '00u2' });
    const reset = (await oktaConnector.execute(ctx('okta', { base_url: okta.url }), 'users:reset_password', {
      user_id: '00u3',
    })) as { body: { resetPasswordUrl: string } };
    expect(fake.users.get('00u1')!.status).toBe('DEPROVISIONED');
    expect(fake.users.get('00u2')!.status).toBe('SUSPENDED');
    expect(reset.body.resetPasswordUrl).toMatch(/^https:/);
    expect(okta.calls.slice(-3).map((c) => `${c.method} ${c.path}`)).toEqual([
      'POST /api/v1/users/00u1/lifecycle/deactivate',
      'POST /api/v1/users/00u2/lifecycle/suspend',
      'POST /api/v1/users/00u3/lifecycle/reset_password?sendEmail=false',
    ]);
  });

  it('reports a missing configuration, an unknown user and an unreachable Okta as typed failures', async () => {
    await expect(oktaConnector.execute(ctx('okta', null), 'users:list', {})).rejects.toMatchObject({
      code: 'not_configured',
    });
    await expect(
      oktaConnector.execute(ctx('okta', { base_url: okta.url }), 'users:deactivate', { user_id: 'nobody' }),
    ).rejects.toMatchObject({ code: 'okta_404', retryable: false });
    await expect(
      oktaConnector.execute(ctx('okta', { base_url: 'http://127.0.0.1:9' }), 'users:list', {}),
    ).rejects.toMatchObject({ code: 'unreachable', retryable: true });
  });

  it('governs the brief’s flow end to end: read autonomously, deactivate only after approval', async () => {
    const h = harness({ connectors: new Map([['okta', oktaConnector]]), secrets });
    await h.configs.putConfig(tenant, 'okta', { base_url: okta.url });
    // as PUT /v1/connectors/okta stores it: bound to the origin it is configured for (F12a)
    await secrets.put(
      connectorSecretName(tenant, 'okta'),
      bindSecret({ api_token: 'okta-token-1' }, { base_url: okta.url }),
    );
    const me = { ...agent, tenantId: tenant };
    const read = await h.svc.submit(
      me,
      { connector: 'okta', operation: 'users:read', params: { filter: 'status eq "ACTIVE"' } },
      trace,
    );
    expect(read.kind).toBe('executed');
    const before = okta.calls.length;
    const held = await h.svc.submit(
      me,
      { connector: 'okta', operation: 'users:deactivate', params: { user_id: 'stale.contractor@acme.com' } },
      trace,
    );
    if (held.kind !== 'pending') throw new Error('expected pending');
    expect(okta.calls.length).toBe(before);
    const done = await h.svc.decide(tenant, held.approval.approval_id, manager, 'approve', 'Verified with HRIS');
    expect(done.action.status).toBe('executed');
    expect(okta.calls.at(-1)!.path).toBe('/api/v1/users/stale.contractor%40acme.com/lifecycle/deactivate');
  });
});

describe('aws connector against moto with broker-issued credentials', () => {
  it('deletes an IAM user with a session scoped to iam:DeleteUser on that user', async () => {
    const iam = new IAMClient({});
    const user = `arx-test-${randomBytes(4).toString('hex')}`;
    await iam.send(new CreateUserCommand({ UserName: user }));
    const seen: { policy?: string }[] = [];
    const r = await awsConnector.execute(
      ctx('aws', { region: 'us-east-1' }, { credentials: stsBroker(seen) }),
      'iam:DeleteUser',
      { user_name: user },
    );
    expect(r).toEqual({ deleted: { user_name: user } });
    await expect(iam.send(new GetUserCommand({ UserName: user }))).rejects.toMatchObject({
      name: 'NoSuchEntityException',
    });
    expect(JSON.parse(seen[0]!.policy!).Statement[0]).toEqual({
      Effect: 'Allow',
      Action: ['iam:DeleteUser'],
      Resource: [`arn:aws:iam::*:user/${user}`],
    });
  });

  it('deletes an empty bucket and reports a non-empty one as a non-retryable failure', async () => {
    const s3 = new S3Client({ forcePathStyle: true });
    const empty = `arx-empty-${randomBytes(4).toString('hex')}`;
    const full = `arx-full-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: empty }));
    await s3.send(new CreateBucketCommand({ Bucket: full }));
    await s3.send(new PutObjectCommand({ Bucket: full, Key: 'k', Body: 'x' }));
    await awsConnector.execute(ctx('aws', {}), 's3:DeleteBucket', { bucket: empty });
    await expect(s3.send(new HeadBucketCommand({ Bucket: empty }))).rejects.toBeTruthy();
    const e = await awsConnector.execute(ctx('aws', {}), 's3:DeleteBucket', { bucket: full }).catch((x: unknown) => x);
    expect(e).toBeInstanceOf(ConnectorError);
    expect(e).toMatchObject({ code: 'aws_BucketNotEmpty', retryable: false });
  });

  it('reads an S3 object as text or base64 under a session scoped to that one object, and refuses a large one whole', async () => {
    const s3 = new S3Client({ forcePathStyle: true });
    const bucket = `arx-read-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    await s3.send(
      new PutObjectCommand({ Bucket: bucket, Key: 'reports/q3.txt', Body: 'déjà vu', ContentType: 'text/plain' }),
    );
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'bin', Body: Buffer.from([0xff, 0x00, 0xfe]) }));
    await s3.send(new PutObjectCommand({ Bucket: bucket, Key: 'big', Body: Buffer.alloc(MAX_OBJECT_BYTES + 1, 97) }));
    const seen: { policy?: string }[] = [];
    const c = ctx('aws', {}, { credentials: stsBroker(seen) });
    expect(await awsConnector.execute(c, 's3:objects:read', { bucket, key: 'reports/q3.txt' })).toMatchObject({
      key: 'reports/q3.txt',
      size: Buffer.byteLength('déjà vu'),
      content_type: 'text/plain',
      text: 'déjà vu',
    });
    expect(JSON.parse(seen[0]!.policy!).Statement[0]).toEqual({
      Effect: 'Allow',
      Action: ['s3:GetObject'],
      Resource: [`arn:aws:s3:::${bucket}/reports/q3.txt`],
    });
    expect(await awsConnector.execute(c, 's3:objects:read', { bucket, key: 'bin' })).toMatchObject({ base64: '/wD+' });
    await expect(awsConnector.execute(c, 's3:objects:read', { bucket, key: 'big' })).rejects.toMatchObject({
      code: 'object_too_large',
      retryable: false,
    });
    await expect(awsConnector.execute(c, 's3:objects:read', { bucket, key: 'absent' })).rejects.toMatchObject({
      code: 'aws_NoSuchKey',
      retryable: false,
    });
    // A wildcard key would widen the session beyond one object: refused before any call.
    expect(awsConnector.operations['s3:objects:read']!.params.safeParse({ bucket, key: 'reports/*' }).success).toBe(
      false,
    );
  });

  it('lists keys page by page under a prefix with a session scoped to s3:ListBucket on the bucket', async () => {
    const s3 = new S3Client({ forcePathStyle: true });
    const bucket = `arx-list-${randomBytes(4).toString('hex')}`;
    await s3.send(new CreateBucketCommand({ Bucket: bucket }));
    for (const k of ['a/1', 'a/2', 'a/3', 'b/1'])
      await s3.send(new PutObjectCommand({ Bucket: bucket, Key: k, Body: k }));
    const seen: { policy?: string }[] = [];
    const c = ctx('aws', {}, { credentials: stsBroker(seen) });
    const first = (await awsConnector.execute(c, 's3:objects:list', { bucket, prefix: 'a/', max_keys: 2 })) as {
      objects: { key: string }[];
      next_continuation_token?: string;
    };
    expect(first.objects.map((o) => o.key)).toEqual(['a/1', 'a/2']);
    const rest = (await awsConnector.execute(c, 's3:objects:list', {
      bucket,
      prefix: 'a/',
      continuation_token: first.next_continuation_token,
    })) as { objects: { key: string }[]; next_continuation_token?: string };
    expect(rest.objects.map((o) => o.key)).toEqual(['a/3']);
    expect(rest.next_continuation_token).toBeUndefined();
    expect(JSON.parse(seen[0]!.policy!).Statement[0]).toMatchObject({
      Action: ['s3:ListBucket'],
      Resource: [`arn:aws:s3:::${bucket}`],
    });
  });

  it('reads an IAM user, and stops an EC2 instance with a session scoped to that instance', async () => {
    const iam = new IAMClient({});
    const user = `arx-read-${randomBytes(4).toString('hex')}`;
    await iam.send(new CreateUserCommand({ UserName: user }));
    const seen: { policy?: string }[] = [];
    const c = ctx('aws', { region: 'us-east-1' }, { credentials: stsBroker(seen) });
    expect(await awsConnector.execute(c, 'iam:users:read', { user_name: user })).toMatchObject({
      user_name: user,
      arn: expect.stringContaining(`:user/${user}`),
    });
    const ec2 = new EC2Client({});
    const run = await ec2.send(new RunInstancesCommand({ ImageId: 'ami-12c6146b', MinCount: 1, MaxCount: 1 }));
    const id = run.Instances![0]!.InstanceId!;
    expect(await awsConnector.execute(c, 'ec2:instances:stop', { instance_id: id })).toMatchObject({
      instance_id: id,
      previous_state: 'running',
    });
    const now = await ec2.send(new DescribeInstancesCommand({ InstanceIds: [id] }));
    expect(['stopping', 'stopped']).toContain(now.Reservations![0]!.Instances![0]!.State!.Name);
    expect(JSON.parse(seen.at(-1)!.policy!).Statement[0]).toMatchObject({
      Action: ['ec2:StopInstances'],
      Resource: [`arn:aws:ec2:*:*:instance/${id}`],
    });
    await expect(
      awsConnector.execute(c, 'ec2:instances:stop', { instance_id: 'i-0000000000000dead' }),
    ).rejects.toMatchObject({ retryable: false });
    // The catalog suggests a risk for each: reads low, stopping an instance high, deletions critical.
    expect(Object.fromEntries(Object.entries(awsConnector.operations).map(([k, v]) => [k, v.risk]))).toMatchObject({
      's3:objects:read': 'low',
      's3:objects:list': 'low',
      'iam:users:read': 'low',
      'ec2:instances:stop': 'high',
      'iam:DeleteUser': 'critical',
      's3:DeleteBucket': 'critical',
    });
  });

  it('fails without credentials when the broker refuses', async () => {
    const refuse: CredentialBroker = { awsCredentials: () => Promise.reject(new Error('agent revoked')) };
    await expect(
      awsConnector.execute(ctx('aws', {}, { credentials: refuse }), 'iam:DeleteUser', { user_name: 'x' }),
    ).rejects.toMatchObject({ code: 'credentials_unavailable' });
  });
});

describe('http connector', () => {
  it('calls only the configured origin with the secret as bearer token', async () => {
    const srv = await recordingServer(() => ({ status: 200, body: { ok: 1 } }));
    try {
      await secrets.put(connectorSecretName(tenant, 'http'), { token: 'tok' });
      const r = await httpConnector.execute(ctx('http', { base_url: srv.url }), 'request:post', {
        path: '/tickets',
        query: { a: 'b' },
        body: { title: 't' },
      });
      expect(r).toEqual({ status: 200, body: { ok: 1 } });
      expect(srv.calls[0]).toMatchObject({ method: 'POST', path: '/tickets?a=b', body: '{"title":"t"}' });
      expect(srv.calls[0]!.headers.authorization).toBe('Bearer tok');
      const params = httpConnector.operations['request:get']!.params;
      expect(params.safeParse({ path: '//evil.example/x' }).success).toBe(false);
      expect(params.safeParse({ path: '/../x' }).success).toBe(false);
    } finally {
      await srv.close();
    }
  });
});
