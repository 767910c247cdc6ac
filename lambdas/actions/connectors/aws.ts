import { EC2Client, StopInstancesCommand } from '@aws-sdk/client-ec2';
import { DeleteUserCommand, GetUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { DeleteBucketCommand, GetObjectCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
import type { Risk } from '../../shared/ports.js';
import { ConnectorError, type Connector, type ConnectorContext } from '../core/model.js';

const AwsConfig = z.strictObject({
  region: z
    .string()
    .max(32)
    .refine((r) => {
      // e.g. us-east-1, ap-southeast-2, us-gov-west-1 (split, not a nested-quantifier regex: F3)
      const p = r.split('-');
      return (
        p.length >= 3 &&
        p.length <= 5 &&
        /^[a-z]{2}$/.test(p[0]!) &&
        /^\d{1,2}$/.test(p.at(-1)!) &&
        p.slice(1, -1).every((x) => /^[a-z]{1,16}$/.test(x))
      );
    }, 'an AWS region such as us-east-1')
    .optional(),
  /** Role the credential broker assumes for this tenant's AWS actions. */
  role_arn: z
    .string()
    .regex(/^arn:aws[a-z-]*:iam::\d{12}:role\/[\w+=,.@/-]+$/)
    .optional(),
});
const AwsSecret = z.strictObject({ external_id: z.string().min(2).max(1224) });

type AwsOp = {
  readonly description: string;
  readonly risk: Risk;
  readonly params: z.ZodType<Record<string, unknown>>;
  readonly iamAction: string;
  readonly resource: (p: Record<string, unknown>) => string;
  readonly run: (
    creds: Awaited<ReturnType<ConnectorContext['credentials']['awsCredentials']>>,
    region: string,
    p: Record<string, unknown>,
  ) => Promise<unknown>;
};

const emulated = (): boolean => Boolean(process.env.AWS_ENDPOINT_URL);

/** The most of an S3 object `s3:objects:read` returns to an agent (a larger one is refused, never cut). */
export const MAX_OBJECT_BYTES = 64 * 1024;

const bucketName = z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/);
const userName = z.string().regex(/^[\w+=,.@-]{1,64}$/);
/** An object key as IAM can name it in a resource ARN (no wildcards: the session is scoped to this one object). */
const objectKey = z
  .string()
  .min(1)
  .max(1024)
  .refine(
    (k) => ![...k].some((c) => c === '*' || c === '?' || c.charCodeAt(0) < 0x20),
    'no wildcards or control characters',
  );
const s3 = (creds: AwsCreds, region: string) =>
  new S3Client({ region, credentials: creds, forcePathStyle: emulated() });
type AwsCreds = Awaited<ReturnType<ConnectorContext['credentials']['awsCredentials']>>;

const OPS: Record<string, AwsOp> = {
  's3:objects:read': {
    description: `Reads one S3 object (at most ${MAX_OBJECT_BYTES} bytes: UTF-8 text, else base64)`,
    risk: 'low',
    params: z.strictObject({ bucket: bucketName, key: objectKey }),
    iamAction: 's3:GetObject',
    resource: (p) => `arn:aws:s3:::${String(p.bucket)}/${String(p.key)}`,
    run: async (creds, region, p) => {
      const r = await s3(creds, region).send(new GetObjectCommand({ Bucket: String(p.bucket), Key: String(p.key) }));
      if ((r.ContentLength ?? 0) > MAX_OBJECT_BYTES) {
        r.Body?.transformToWebStream().cancel();
        throw new ConnectorError(
          `the object is ${r.ContentLength} bytes; s3:objects:read returns at most ${MAX_OBJECT_BYTES}`,
          'object_too_large',
          false,
        );
      }
      const bytes = Buffer.from((await r.Body?.transformToByteArray()) ?? []);
      const text = new TextDecoder('utf-8', { fatal: true });
      let body: { text: string } | { base64: string };
      try {
        body = { text: text.decode(bytes) };
      } catch {
        body = { base64: bytes.toString('base64') };
      }
      return {
        bucket: p.bucket,
        key: p.key,
        size: bytes.length,
        content_type: r.ContentType ?? null,
        etag: r.ETag ?? null,
        last_modified: r.LastModified?.toISOString() ?? null,
        ...body,
      };
    },
  },
  's3:objects:list': {
    description: 'Lists the keys of one S3 bucket under a prefix (at most 1,000 a call, with a continuation token)',
    risk: 'low',
    params: z.strictObject({
      bucket: bucketName,
      prefix: z.string().max(1024).optional(),
      max_keys: z.number().int().min(1).max(1000).optional(),
      continuation_token: z.string().max(1024).optional(),
    }),
    iamAction: 's3:ListBucket',
    resource: (p) => `arn:aws:s3:::${String(p.bucket)}`,
    run: async (creds, region, p) => {
      const r = await s3(creds, region).send(
        new ListObjectsV2Command({
          Bucket: String(p.bucket),
          ...(p.prefix !== undefined ? { Prefix: String(p.prefix) } : {}),
          MaxKeys: Number(p.max_keys ?? 1000),
          ...(p.continuation_token !== undefined ? { ContinuationToken: String(p.continuation_token) } : {}),
        }),
      );
      return {
        bucket: p.bucket,
        objects: (r.Contents ?? []).map((o) => ({
          key: o.Key ?? '',
          size: o.Size ?? 0,
          last_modified: o.LastModified?.toISOString() ?? null,
        })),
        ...(r.IsTruncated && r.NextContinuationToken ? { next_continuation_token: r.NextContinuationToken } : {}),
      };
    },
  },
  'iam:users:read': {
    description: 'Reads one IAM user (name, id, ARN, creation and last password use)',
    risk: 'low',
    params: z.strictObject({ user_name: userName }),
    iamAction: 'iam:GetUser',
    resource: (p) => `arn:aws:iam::*:user/${String(p.user_name)}`,
    run: async (creds, region, p) => {
      const u = (
        await new IAMClient({ region, credentials: creds }).send(new GetUserCommand({ UserName: String(p.user_name) }))
      ).User;
      return {
        user_name: u?.UserName ?? p.user_name,
        user_id: u?.UserId ?? null,
        arn: u?.Arn ?? null,
        path: u?.Path ?? null,
        created_at: u?.CreateDate?.toISOString() ?? null,
        password_last_used: u?.PasswordLastUsed?.toISOString() ?? null,
      };
    },
  },
  'ec2:instances:stop': {
    description: 'Stops one EC2 instance',
    risk: 'high',
    params: z.strictObject({ instance_id: z.string().regex(/^i-[0-9a-f]{8,17}$/) }),
    iamAction: 'ec2:StopInstances',
    resource: (p) => `arn:aws:ec2:*:*:instance/${String(p.instance_id)}`,
    run: async (creds, region, p) => {
      const r = await new EC2Client({ region, credentials: creds }).send(
        new StopInstancesCommand({ InstanceIds: [String(p.instance_id)] }),
      );
      const i = r.StoppingInstances?.[0];
      return {
        instance_id: i?.InstanceId ?? p.instance_id,
        previous_state: i?.PreviousState?.Name ?? null,
        current_state: i?.CurrentState?.Name ?? null,
      };
    },
  },
  'iam:DeleteUser': {
    description: 'iam:DeleteUser on one IAM user',
    risk: 'critical',
    params: z.strictObject({ user_name: userName }),
    iamAction: 'iam:DeleteUser',
    resource: (p) => `arn:aws:iam::*:user/${String(p.user_name)}`,
    run: async (creds, region, p) => {
      const iam = new IAMClient({ region, credentials: creds });
      await iam.send(new DeleteUserCommand({ UserName: String(p.user_name) }));
      return { deleted: { user_name: p.user_name } };
    },
  },
  's3:DeleteBucket': {
    description: 's3:DeleteBucket on one (empty) bucket',
    risk: 'critical',
    params: z.strictObject({ bucket: bucketName }),
    iamAction: 's3:DeleteBucket',
    resource: (p) => `arn:aws:s3:::${String(p.bucket)}`,
    run: async (creds, region, p) => {
      await s3(creds, region).send(new DeleteBucketCommand({ Bucket: String(p.bucket) }));
      return { deleted: { bucket: p.bucket } };
    },
  },
};

/**
 * The IAM scope of one aws operation with its (already validated) params, or null when the
 * operation is unknown or the params do not parse. The credential broker derives a session's
 * scope from a permitted action through this, never from its caller (F1).
 */
export function awsActionScope(
  operation: string,
  params: Record<string, unknown>,
): { actions: string[]; resources: string[] } | null {
  const op = Object.hasOwn(OPS, operation) ? OPS[operation] : undefined;
  if (!op?.params.safeParse(params).success) return null;
  return { actions: [op.iamAction], resources: [op.resource(params)] };
}

const NOT_RETRYABLE = new Set([
  'NoSuchKey',
  'InvalidInstanceID.NotFound',
  'InvalidInstanceID.Malformed',
  'IncorrectInstanceState',
  'UnauthorizedOperation',
  'NoSuchEntity',
  'NoSuchEntityException',
  'NoSuchBucket',
  'BucketNotEmpty',
  'DeleteConflict',
  'DeleteConflictException',
  'AccessDenied',
  'AccessDeniedException',
  'ValidationError',
]);

/**
 * AWS SDK calls made with just-in-time credentials from the credential broker: each action gets a
 * session scoped to exactly its IAM action and resource (zero standing privilege).
 */
export const awsConnector: Connector = {
  name: 'aws',
  description: 'AWS API calls with broker-issued, per-action credentials',
  configSchema: AwsConfig,
  secretSchema: AwsSecret,
  operations: Object.fromEntries(
    Object.entries(OPS).map(([k, v]) => [k, { description: v.description, params: v.params, risk: v.risk }]),
  ),
  async execute(ctx, operation, p) {
    const op = OPS[operation];
    if (!op) throw new ConnectorError(`unknown aws operation ${operation}`, 'unknown_operation', false);
    const cfg = AwsConfig.safeParse(ctx.config ?? {});
    const config = cfg.success ? cfg.data : {};
    const secret = await ctx.secret();
    let creds: Awaited<ReturnType<typeof ctx.credentials.awsCredentials>>;
    try {
      creds = await ctx.credentials.awsCredentials({
        tenantId: ctx.tenantId,
        agentId: ctx.agentId,
        actionId: ctx.actionId,
        actions: [op.iamAction],
        resources: [op.resource(p)],
        ...(config.role_arn ? { roleArn: config.role_arn } : {}),
        ...(secret?.external_id ? { externalId: secret.external_id } : {}),
      });
    } catch (e) {
      throw new ConnectorError('the credential broker issued no credentials', 'credentials_unavailable', true, {
        cause: e,
      });
    }
    const region = config.region ?? process.env.AWS_REGION ?? 'us-east-1';
    try {
      return await op.run(creds, region, p);
    } catch (e) {
      if (e instanceof ConnectorError) throw e;
      const name = (e as { name?: string }).name ?? 'Error';
      throw new ConnectorError(`AWS refused ${operation}: ${name}`, `aws_${name}`, !NOT_RETRYABLE.has(name), {
        cause: e,
      });
    }
  },
};
