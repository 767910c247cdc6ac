import { DeleteUserCommand, IAMClient } from '@aws-sdk/client-iam';
import { DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { z } from 'zod';
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

const OPS: Record<string, AwsOp> = {
  'iam:DeleteUser': {
    description: 'iam:DeleteUser on one IAM user',
    params: z.strictObject({ user_name: z.string().regex(/^[\w+=,.@-]{1,64}$/) }),
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
    params: z.strictObject({ bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/) }),
    iamAction: 's3:DeleteBucket',
    resource: (p) => `arn:aws:s3:::${String(p.bucket)}`,
    run: async (creds, region, p) => {
      const s3 = new S3Client({ region, credentials: creds, forcePathStyle: emulated() });
      await s3.send(new DeleteBucketCommand({ Bucket: String(p.bucket) }));
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
    Object.entries(OPS).map(([k, v]) => [k, { description: v.description, params: v.params }]),
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
      const name = (e as { name?: string }).name ?? 'Error';
      throw new ConnectorError(`AWS refused ${operation}: ${name}`, `aws_${name}`, !NOT_RETRYABLE.has(name), {
        cause: e,
      });
    }
  },
};
