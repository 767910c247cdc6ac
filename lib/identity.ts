import { ArnFormat, CfnOutput, RemovalPolicy, Stack, Tags } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import * as kms from 'aws-cdk-lib/aws-kms';
import { Construct } from 'constructs';
import type { Access } from '../lambdas/shared/topology-types.js';
import type { ArxFunction } from './arx-function.js';
import { pascal, type ArxFunctions, type Iam5Ack, type ResourceRegistry } from './bindings.js';
import { arxTable } from './tables.js';

/** Tag every tenant signing key carries; runtime-created (rotated) keys must carry it too. */
export const TENANT_TAG = 'arx:tenant';

/** Tag a role in ARX's own account must carry for termination to put the session deny on it (F6). */
export const CREDENTIAL_ROLE_TAG = 'arx:credential-role';
/**
 * Tag on the execution role of every function that assumes credential roles (the broker, and the
 * actions functions that run the aws connector in process). A registered role's trust policy names
 * ARX's account and requires this principal tag (see {@link credentialRoleTrustPolicy}), so it trusts
 * exactly those functions, whatever names CloudFormation gave their roles.
 */
export const CREDENTIAL_BROKER_TAG = 'arx:credential-broker';

/**
 * The trust policy a customer puts on a role registered with `PUT /v1/credentials/roles/{name}`:
 * ARX's account may assume it only from a principal tagged {@link CREDENTIAL_BROKER_TAG}, with the
 * tenant's external id (answered by the registry), and may set the source identity (the agent id,
 * which the revoke-older-sessions deny keys on).
 */
export function credentialRoleTrustPolicy(accountArn: string, externalId = '<external_id>') {
  const broker = { StringEquals: { [`aws:PrincipalTag/${CREDENTIAL_BROKER_TAG}`]: 'true' } };
  return {
    Version: '2012-10-17',
    Statement: [
      {
        Effect: 'Allow',
        Principal: { AWS: accountArn },
        Action: 'sts:AssumeRole',
        Condition: { StringEquals: { ...broker.StringEquals, 'sts:ExternalId': externalId } },
      },
      { Effect: 'Allow', Principal: { AWS: accountArn }, Action: 'sts:SetSourceIdentity', Condition: broker },
    ],
  };
}

/** Value of ARX_CREDENTIAL_BROKER: the broker's grants are on the function role itself. */
export const CREDENTIAL_BROKER_MODE = 'registered-roles';

/** `alias/arx/<tenant>/signing`. */
export const signingAlias = (tenant: string): string => `alias/arx/${tenant}/signing`;

export interface IdentityProps {
  /** Registry the revocation table and the signing key are registered in. */
  readonly registry: ResourceRegistry;
  /** The topology's functions (for identity-specific additions). */
  readonly functions: ArxFunctions;
  /** Tenants that get an initial signing key (the first one is ARX_SIGNING_KEY_ARN). */
  readonly tenants: readonly string[];
  /**
   * Removal policy of the signing keys and the revocation table.
   * @default RemovalPolicy.RETAIN
   */
  readonly removalPolicy?: RemovalPolicy;
}

/**
 * C2 identity: the distributed revocation list (DRL) table and one KMS ECC_NIST_P256 SIGN_VERIFY
 * key per tenant (aliased `alias/arx/<tenant>/signing`, tagged `arx:tenant`). Functions that use
 * `signingKey` get kms:Sign/GetPublicKey on the tenant keys; with write access they may also
 * create and alias keys tagged `arx:tenant` (a runtime tenant's first key), and identity
 * functions may schedule their deletion (runtime key rotation).
 */
export class Identity extends Construct {
  /** DRL: pk tenant_id, sk agent_id, GSI by-time (tenant_id, seq), TTL ttl_epoch (ARX_REVOCATION_TABLE). */
  readonly revocationTable: dynamodb.Table;
  /** Initial signing key per tenant. */
  readonly signingKeys: ReadonlyMap<string, kms.Key>;
  /** The first tenant's key (ARX_SIGNING_KEY_ARN). */
  readonly defaultSigningKey: kms.Key;
  protected readonly functions: ArxFunctions;

  constructor(scope: Construct, id: string, props: IdentityProps) {
    super(scope, id);
    if (props.tenants.length === 0) throw new Error('Identity needs at least one tenant for the initial signing key');
    const removalPolicy = props.removalPolicy ?? RemovalPolicy.RETAIN;
    this.functions = props.functions;

    this.revocationTable = arxTable(this, 'RevocationTable', {
      partitionKey: 'tenant_id',
      sortKey: 'agent_id',
      gsis: [{ name: 'by-time', pk: 'tenant_id', sk: 'seq' }],
      ttlAttribute: 'ttl_epoch',
      removalPolicy,
    });

    const keys = new Map<string, kms.Key>();
    for (const tenant of props.tenants) {
      const key = new kms.Key(this, `SigningKey-${tenant}`, {
        description: `ARX signing key of tenant ${tenant} (JWT-SVIDs, attestations)`,
        keySpec: kms.KeySpec.ECC_NIST_P256,
        keyUsage: kms.KeyUsage.SIGN_VERIFY,
        alias: signingAlias(tenant),
        removalPolicy,
      });
      Tags.of(key).add(TENANT_TAG, tenant);
      new CfnOutput(this, `SigningKeyArn-${tenant}`, {
        value: key.keyArn,
        description: `ARN of the signing key of tenant ${tenant}`,
      }).overrideLogicalId(`SigningKeyArn${pascal(tenant)}`);
      keys.set(tenant, key);
    }
    this.signingKeys = keys;
    this.defaultSigningKey = keys.get(props.tenants[0]!)!;

    props.registry.registerTable('revocationTable', this.revocationTable);
    props.registry.register('signingKey', {
      envValue: this.defaultSigningKey.keyArn,
      grant: (fn, access) => this.grantSigning(fn, access),
    });
    props.registry.register('credentialBroker', {
      envValue: CREDENTIAL_BROKER_MODE,
      grant: (fn, access) => this.grantCredentialBroker(fn, access),
    });
    const stack = Stack.of(this);
    new CfnOutput(this, 'CredentialRoleTrustPolicy', {
      value: stack.toJsonString(
        credentialRoleTrustPolicy(
          stack.formatArn({ service: 'iam', region: '', account: stack.account, resource: 'root' }),
        ),
      ),
      description:
        'Trust policy for roles registered with PUT /v1/credentials/roles/{name}: replace <external_id> with the external id the registry answers',
    }).overrideLogicalId('CredentialRoleTrustPolicy');
  }

  /**
   * The credential broker's grants. read (issue): sts:AssumeRole/SetSourceIdentity on roles (the
   * runtime registry decides which role a tenant may use, F1) and the tenants' OAuth client
   * secrets `arx/<tenant>/oauth/*` (F12b). write (revoke, F6): also Get/PutRolePolicy on roles of
   * this account tagged `arx:credential-role` (the revoke-older-sessions deny).
   */
  grantCredentialBroker(fn: ArxFunction, access: Access): Iam5Ack[] {
    const stack = Stack.of(this);
    // What the registered roles' trust policy requires of the caller (credentialRoleTrustPolicy).
    Tags.of(fn.function.role!).add(CREDENTIAL_BROKER_TAG, 'true');
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['sts:AssumeRole', 'sts:SetSourceIdentity'],
        resources: ['arn:aws:iam::*:role/*'],
      }),
    );
    const secrets = stack.formatArn({
      service: 'secretsmanager',
      resource: 'secret',
      resourceName: 'arx/*/oauth/*',
      arnFormat: ArnFormat.COLON_RESOURCE_NAME,
    });
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [secrets] }),
    );
    const acks: Iam5Ack[] = [
      {
        appliesTo: 'Resource::arn:aws:iam::*:role/*',
        reason:
          'Credential broker: target roles are registered per tenant at runtime (any account) in the role registry, which the broker checks before every AssumeRole; each session carries the tenant external id, SourceIdentity=<agent> and a session policy scoped to one permitted action.',
      },
      {
        appliesTo: 'Resource::arn:<AWS::Partition>:secretsmanager:<AWS::Region>:<AWS::AccountId>:secret:arx/*/oauth/*',
        reason:
          'OAuth client secrets live under arx/<tenant>/oauth/ (tenants are created at runtime); the broker refuses any other tenant prefix.',
      },
    ];
    if (access === 'write') {
      fn.function.addToRolePolicy(
        new iam.PolicyStatement({
          actions: ['iam:GetRolePolicy', 'iam:PutRolePolicy'],
          resources: [stack.formatArn({ service: 'iam', region: '', resource: 'role', resourceName: '*' })],
          conditions: { StringEquals: { [`aws:ResourceTag/${CREDENTIAL_ROLE_TAG}`]: 'true' } },
        }),
      );
      acks.push({
        appliesTo: 'Resource::arn:<AWS::Partition>:iam::<AWS::AccountId>:role/*',
        reason: `Termination puts the revoke-older-sessions deny (inline policy arx-revoked-sessions) on registered roles of this account; only roles tagged ${CREDENTIAL_ROLE_TAG}=true (ABAC condition).`,
      });
    }
    return acks;
  }

  /**
   * read: kms:GetPublicKey/DescribeKey/ListResourceTags; write: also kms:Sign — on the initial tenant keys and on
   * any key tagged `arx:tenant` (keys created by rotation). Writers also get key provisioning,
   * identity writers the whole key lifecycle (see `grantKeyLifecycle`).
   */
  grantSigning(fn: ArxFunction, access: Access): Iam5Ack[] {
    const read = ['kms:GetPublicKey', 'kms:DescribeKey', 'kms:ListResourceTags'];
    const actions = access === 'write' ? ['kms:Sign', ...read] : read;
    const initial = [...this.signingKeys.values()].map((k) => k.keyArn);
    fn.function.addToRolePolicy(new iam.PolicyStatement({ actions, resources: initial }));
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions,
        resources: [this.kmsArn('key/*')],
        conditions: { Null: { [`aws:ResourceTag/${TENANT_TAG}`]: 'false' } },
      }),
    );
    const acks: Iam5Ack[] = [
      {
        appliesTo: this.nagKmsArn('key/*'),
        reason: `Tenant signing keys rotate at runtime (new key ids), so signing is granted on keys carrying the ${TENANT_TAG} tag (ABAC condition) rather than fixed ARNs.`,
      },
    ];
    // Every signer may provision a tenant's first key (a tenant created at runtime pushes a bundle
    // before any token exists); only identity rotates and deletes keys.
    if (access === 'write') acks.push(...this.grantKeyLifecycle(fn, { deletion: fn.spec.capability === 'identity' }));
    return acks;
  }

  /**
   * Key provisioning and rotation: create ECC_NIST_P256 SIGN_VERIFY keys only when tagged
   * `arx:tenant` and point `alias/arx/*` at them; with `deletion`, also schedule deletion of keys
   * carrying that tag (identity's rotation).
   */
  grantKeyLifecycle(fn: ArxFunction, opts: { deletion: boolean } = { deletion: true }): Iam5Ack[] {
    const tagPresent = { Null: { [`aws:RequestTag/${TENANT_TAG}`]: 'false' } };
    const taggedKey = { Null: { [`aws:ResourceTag/${TENANT_TAG}`]: 'false' } };
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateKey'],
        resources: ['*'],
        conditions: { ...tagPresent, StringEquals: { 'kms:KeySpec': 'ECC_NIST_P256', 'kms:KeyUsage': 'SIGN_VERIFY' } },
      }),
    );
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:TagResource'],
        resources: [this.kmsArn('key/*')],
        conditions: tagPresent,
      }),
    );
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateAlias', 'kms:UpdateAlias'],
        resources: [this.kmsArn('alias/arx/*')],
      }),
    );
    fn.function.addToRolePolicy(
      new iam.PolicyStatement({
        actions: ['kms:CreateAlias', 'kms:UpdateAlias', ...(opts.deletion ? ['kms:ScheduleKeyDeletion'] : [])],
        resources: [this.kmsArn('key/*')],
        conditions: taggedKey,
      }),
    );
    return [
      {
        appliesTo: 'Resource::*',
        reason: `kms:CreateKey has no resource ARN (the key does not exist yet); it is constrained to ECC_NIST_P256/SIGN_VERIFY keys requested with the ${TENANT_TAG} tag.`,
      },
      {
        appliesTo: this.nagKmsArn('alias/arx/*'),
        reason:
          'Rotation creates/updates the per-tenant aliases alias/arx/<tenant>/signing; tenants are created at runtime, so the alias ARN is a prefix.',
      },
    ];
  }

  private kmsArn(resource: string): string {
    return Stack.of(this).formatArn({ service: 'kms', resource });
  }

  private nagKmsArn(resource: string): string {
    return `Resource::arn:<AWS::Partition>:kms:<AWS::Region>:<AWS::AccountId>:${resource}`;
  }
}
