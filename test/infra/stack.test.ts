import { Match, Template } from 'aws-cdk-lib/assertions';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { AUTHORIZER_FN, TOPOLOGY } from '../../lambdas/topology.js';
import { RESOURCE_ENV, routeKey, type ResourceName } from '../../lambdas/shared/topology-types.js';
import { buildApp } from '../../lib/synth.js';
import { HANDLER_SETTINGS } from '../../lib/handler-settings.gen.js';
import type { ArxStack } from '../../lib/arx-stack.js';
import { CREDENTIAL_BROKER_TAG, credentialRoleTrustPolicy } from '../../lib/identity.js';

// In-process CDK synthesis is CPU-bound and synchronous: allow for a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

let stack: ArxStack;
let template: Template;
let resources: Record<string, { Type: string; Properties: any; DeletionPolicy?: string }>;

beforeAll(() => {
  ({ stack } = buildApp());
  template = Template.fromStack(stack);
  resources = template.toJSON().Resources;
});

const logicalId = (construct: { node: { defaultChild?: unknown } } | unknown): string =>
  stack.getLogicalId((construct as any).node.defaultChild);

const functionsByName = (): Map<string, { id: string; props: any }> => {
  const out = new Map<string, { id: string; props: any }>();
  for (const [id, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    out.set(r.Properties.Environment.Variables.ARX_FUNCTION_NAME, { id, props: r.Properties });
  }
  return out;
};

describe('PlatformStorage', () => {
  it('creates the control table with pk/sk, gsi1, gsi2, TTL expires_at_epoch, PITR and SSE', () => {
    const t = resources[logicalId(stack.platform.controlTable)]!;
    expect(t.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      KeySchema: [
        { AttributeName: 'pk', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
      TimeToLiveSpecification: { AttributeName: 'expires_at_epoch', Enabled: true },
    });
    expect(
      t.Properties.GlobalSecondaryIndexes.map((g: any) => [g.IndexName, g.KeySchema.map((k: any) => k.AttributeName)]),
    ).toEqual([
      ['gsi1', ['gsi1pk', 'gsi1sk']],
      ['gsi2', ['gsi2pk', 'gsi2sk']],
    ]);
  });

  it('creates a symmetric data key with rotation on', () => {
    const k = resources[logicalId(stack.platform.dataKey)]!;
    expect(k.Properties.EnableKeyRotation).toBe(true);
    expect(k.Properties.KeySpec ?? 'SYMMETRIC_DEFAULT').toBe('SYMMETRIC_DEFAULT');
  });
});

describe('Discovery', () => {
  it('creates a retained inventory table with pk/sk, gsi1, PITR and SSE', () => {
    const t = resources[logicalId(stack.discovery.inventoryTable)]!;
    expect(t.DeletionPolicy).toBe('Retain');
    expect(t.Properties).toMatchObject({
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      SSESpecification: { SSEEnabled: true },
    });
    expect(t.Properties.GlobalSecondaryIndexes.map((g: any) => g.IndexName)).toEqual(['gsi1']);
  });
});

describe('Identity', () => {
  it('creates the revocation table keyed tenant_id/agent_id with GSI by-time on seq and TTL ttl_epoch', () => {
    const t = resources[logicalId(stack.identity.revocationTable)]!;
    expect(t.Properties.KeySchema).toEqual([
      { AttributeName: 'tenant_id', KeyType: 'HASH' },
      { AttributeName: 'agent_id', KeyType: 'RANGE' },
    ]);
    expect(t.Properties.GlobalSecondaryIndexes[0]).toMatchObject({
      IndexName: 'by-time',
      KeySchema: [
        { AttributeName: 'tenant_id', KeyType: 'HASH' },
        { AttributeName: 'seq', KeyType: 'RANGE' },
      ],
    });
    expect(t.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'ttl_epoch', Enabled: true });
    expect(t.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });

  it('creates one ECC_NIST_P256 SIGN_VERIFY key per tenant, tagged, aliased and output', () => {
    const key = stack.identity.signingKeys.get('acme')!;
    const k = resources[logicalId(key)]!;
    expect(k.Properties).toMatchObject({ KeySpec: 'ECC_NIST_P256', KeyUsage: 'SIGN_VERIFY' });
    expect(k.Properties.Tags).toContainEqual({ Key: 'arx:tenant', Value: 'acme' });
    template.hasResourceProperties('AWS::KMS::Alias', {
      AliasName: 'alias/arx/acme/signing',
      TargetKeyId: { 'Fn::GetAtt': [logicalId(key), 'Arn'] },
    });
    template.hasOutput('SigningKeyArnAcme', { Value: { 'Fn::GetAtt': [logicalId(key), 'Arn'] } });
  });
});

describe('Audit', () => {
  it('creates the audit bucket with Object Lock COMPLIANCE 365 days, versioning, SSE, BPA and access logs', () => {
    const b = resources[logicalId(stack.audit.auditBucket)]!;
    expect(b.DeletionPolicy).toBe('Retain');
    expect(b.Properties).toMatchObject({
      ObjectLockEnabled: true,
      ObjectLockConfiguration: {
        ObjectLockEnabled: 'Enabled',
        Rule: { DefaultRetention: { Mode: 'COMPLIANCE', Days: 365 } },
      },
      VersioningConfiguration: { Status: 'Enabled' },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: {
        DestinationBucketName: { Ref: logicalId(stack.node.findChild('AccessLogs').node.findChild('Bucket')) },
      },
    });
    expect(
      b.Properties.BucketEncryption.ServerSideEncryptionConfiguration[0].ServerSideEncryptionByDefault.SSEAlgorithm,
    ).toBe('AES256');
  });

  it('denies non-TLS access to the audit bucket', () => {
    template.hasResourceProperties('AWS::S3::BucketPolicy', {
      Bucket: { Ref: logicalId(stack.audit.auditBucket) },
      PolicyDocument: {
        Statement: Match.arrayWith([
          Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        ]),
      },
    });
  });

  it('creates the audit table with gsi1 and gsi2 and the versioned artifact bucket', () => {
    const t = resources[logicalId(stack.audit.auditTable)]!;
    expect(t.Properties.GlobalSecondaryIndexes.map((g: any) => g.IndexName)).toEqual(['gsi1', 'gsi2']);
    expect(t.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
    const a = resources[logicalId(stack.audit.artifactBucket)]!;
    expect(a.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(a.Properties.LoggingConfiguration).toBeDefined();
  });
});

describe('Policy', () => {
  it('creates a versioned, access-logged, TLS-only bundle bucket', () => {
    const b = resources[logicalId(stack.policy.bundleBucket)]!;
    expect(b.Properties.VersioningConfiguration).toEqual({ Status: 'Enabled' });
    expect(b.Properties.LoggingConfiguration.LogFilePrefix).toBe('bundles/');
    expect(b.Properties.PublicAccessBlockConfiguration.BlockPublicPolicy).toBe(true);
  });
});

describe('Observability', () => {
  it('creates the traces table with gsi1 (agent/time), gsi2 (day/time), TTL and PITR', () => {
    const t = resources[logicalId(stack.observability.tracesTable)]!;
    expect(t.Properties.TimeToLiveSpecification).toEqual({ AttributeName: 'expires_at_epoch', Enabled: true });
    expect(t.Properties.GlobalSecondaryIndexes.map((g: any) => g.IndexName)).toEqual(['gsi1', 'gsi2']);
    expect(t.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
  });
});

describe('all tables', () => {
  it('are on-demand with PITR and encryption at rest', () => {
    const tables = Object.values(resources).filter((r) => r.Type === 'AWS::DynamoDB::Table');
    expect(tables.length).toBeGreaterThanOrEqual(5);
    for (const t of tables) {
      expect(t.Properties.BillingMode).toBe('PAY_PER_REQUEST');
      expect(t.Properties.PointInTimeRecoverySpecification).toEqual({ PointInTimeRecoveryEnabled: true });
      expect(t.Properties.SSESpecification).toEqual({ SSEEnabled: true });
    }
  });
});

describe('ArxFunction', () => {
  it('creates one function per topology function, each nodejs22.x on arm64 with active tracing and JSON logs', () => {
    const fns = functionsByName();
    expect([...fns.keys()].sort()).toEqual(TOPOLOGY.functions.map((f) => f.name).sort());
    for (const { props } of fns.values()) {
      expect(props.Runtime).toBe('nodejs22.x');
      expect(props.Architectures).toEqual(['arm64']);
      expect(props.TracingConfig).toEqual({ Mode: 'Active' });
      expect(props.Handler).toBe('index.handler');
      expect(props.LoggingConfig.LogFormat).toBe('JSON');
    }
  });

  it('gives every function its own log group with one-month retention, encrypted with the rotating logs key', () => {
    const keyId = logicalId(stack.functions.logsKey);
    expect(resources[keyId]!.Properties.EnableKeyRotation).toBe(true);
    const logsStatement = resources[keyId]!.Properties.KeyPolicy.Statement.find((s: any) =>
      JSON.stringify(s.Principal).includes('logs.'),
    );
    expect(logsStatement.Condition.ArnLike['kms:EncryptionContext:aws:logs:arn']).toBeDefined();
    for (const { props } of functionsByName().values()) {
      const lg = resources[props.LoggingConfig.LogGroup.Ref]!;
      expect(lg.Type).toBe('AWS::Logs::LogGroup');
      expect(lg.Properties.RetentionInDays).toBe(30);
      expect(lg.Properties.KmsKeyId).toEqual({ 'Fn::GetAtt': [keyId, 'Arn'] });
    }
  });

  it('sets ARX_FUNCTION_NAME, POWERTOOLS_SERVICE_NAME, NODE_OPTIONS and the spec environment', () => {
    const fns = functionsByName();
    for (const spec of TOPOLOGY.functions) {
      const v = fns.get(spec.name)!.props.Environment.Variables;
      expect(v.ARX_FUNCTION_NAME).toBe(spec.name);
      expect(v.POWERTOOLS_SERVICE_NAME).toBe(`arx-${spec.capability}`);
      expect(v.NODE_OPTIONS).toBe('--enable-source-maps');
      for (const [k, val] of Object.entries(spec.environment ?? {})) expect(v[k]).toBe(val);
    }
  });

  it('uses an explicit role with no AWS managed policies', () => {
    for (const { props } of functionsByName().values()) {
      const role = resources[props.Role['Fn::GetAtt'][0]]!;
      expect(role.Type).toBe('AWS::IAM::Role');
      expect(role.Properties.ManagedPolicyArns).toBeUndefined();
    }
  });
});

describe('ArxFunctions.bindResources', () => {
  const expectedEnvValue = (name: ResourceName): unknown => {
    const s = stack;
    const ref = (c: unknown) => ({ Ref: logicalId(c) });
    const arn = (c: unknown) => ({ 'Fn::GetAtt': [logicalId(c), 'Arn'] });
    switch (name) {
      case 'inventoryTable':
        return ref(s.discovery.inventoryTable);
      case 'controlTable':
        return ref(s.platform.controlTable);
      case 'revocationTable':
        return ref(s.identity.revocationTable);
      case 'auditTable':
        return ref(s.audit.auditTable);
      case 'tracesTable':
        return ref(s.observability.tracesTable);
      case 'auditBucket':
        return ref(s.audit.auditBucket);
      case 'bundleBucket':
        return ref(s.policy.bundleBucket);
      case 'artifactBucket':
        return ref(s.audit.artifactBucket);
      case 'dataKey':
        return arn(s.platform.dataKey);
      case 'signingKey':
        return arn(s.identity.defaultSigningKey);
      case 'bus':
        return ref(s.eventBus.bus);
      case 'terminationStateMachine':
      case 'approvalStateMachine':
        return { Ref: expect.any(String) };
      case 'credentialBroker':
        return 'registered-roles';
    }
  };

  it('sets the RESOURCE_ENV variable of every used resource its handler reads to a plain Ref/GetAtt', () => {
    const fns = functionsByName();
    let checked = 0;
    for (const spec of TOPOLOGY.functions) {
      const v = fns.get(spec.name)!.props.Environment.Variables;
      for (const name of Object.keys(spec.uses) as ResourceName[]) {
        const variable = RESOURCE_ENV[name];
        if (!variable) continue; // a grant only
        // A use whose variable the handler does not read is a grant only (test/infra/settings.test.ts).
        if (!HANDLER_SETTINGS[spec.entry]!.includes(variable)) {
          expect(v[variable], `${spec.name} ${name}`).toBeUndefined();
          continue;
        }
        expect(v[variable], `${spec.name} ${name}`).toEqual(expectedEnvValue(name));
        checked++;
      }
      // Nothing it does not use.
      for (const name of Object.keys(RESOURCE_ENV) as ResourceName[]) {
        const variable = RESOURCE_ENV[name];
        if (variable && !(name in spec.uses)) expect(v[variable], `${spec.name} must not get ${name}`).toBeUndefined();
      }
    }
    expect(checked).toBeGreaterThan(0);
  });

  it('grants read-only table access for read and read/write for write', () => {
    const fns = functionsByName();
    const policyOf = (fnName: string): any[] => {
      const roleId = fns.get(fnName)!.props.Role['Fn::GetAtt'][0];
      return Object.values(resources)
        .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === roleId))
        .flatMap((r) => r.Properties.PolicyDocument.Statement);
    };
    const actionsOn = (fnName: string, target: unknown): string[] =>
      policyOf(fnName)
        .filter((s) => JSON.stringify(s.Resource).includes(JSON.stringify(target)))
        .flatMap((s) => [s.Action].flat());
    for (const spec of TOPOLOGY.functions) {
      for (const [name, access] of Object.entries(spec.uses)) {
        if (!name.endsWith('Table')) continue;
        const arn = { 'Fn::GetAtt': [(expectedEnvValue(name as ResourceName) as any).Ref, 'Arn'] };
        const actions = actionsOn(spec.name, arn);
        expect(actions, `${spec.name} ${name}`).toContain('dynamodb:Query');
        if (access === 'write') expect(actions).toContain('dynamodb:PutItem');
        else expect(actions).not.toContain('dynamodb:PutItem');
      }
    }
  });
});

describe('ArxApi', () => {
  it('creates an HTTP API with a REQUEST Lambda authorizer: simple responses, no cache, Authorization header', () => {
    const authFn = functionsByName().get(AUTHORIZER_FN)!;
    template.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      AuthorizerPayloadFormatVersion: '2.0',
      EnableSimpleResponses: true,
      AuthorizerResultTtlInSeconds: 0,
      IdentitySource: ['$request.header.Authorization'],
    });
    const authorizer = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Authorizer')!;
    expect(JSON.stringify(authorizer.Properties.AuthorizerUri)).toContain(authFn.id);
  });

  it('passes the IdP settings and the SVID issuer base to the authorizer', () => {
    const v = functionsByName().get(AUTHORIZER_FN)!.props.Environment.Variables;
    expect(v).toMatchObject({
      ARX_IDP_ISSUER: 'https://idp.example.com/',
      ARX_IDP_AUDIENCE: 'arx',
      ARX_IDP_JWKS_URL: 'https://idp.example.com/.well-known/jwks.json',
      ARX_IDP_TENANT_CLAIM: 'arx_tenant',
      ARX_IDP_ROLES_CLAIM: 'arx_roles',
      ARX_SVID_ISSUER_BASE: { 'Fn::GetAtt': [logicalId(stack.api.httpApi), 'ApiEndpoint'] },
    });
  });

  it('creates exactly one route per topology route with the right authorization type', () => {
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    expect(routes.map((r) => r.Properties.RouteKey).sort()).toEqual(TOPOLOGY.routes.map(routeKey).sort());
    for (const spec of TOPOLOGY.routes) {
      const r = routes.find((x) => x.Properties.RouteKey === routeKey(spec))!;
      expect(r.Properties.AuthorizationType, routeKey(spec)).toBe(spec.auth === 'bearer' ? 'CUSTOM' : 'NONE');
      if (spec.auth === 'bearer') expect(r.Properties.AuthorizerId).toBeDefined();
      else expect(r.Properties.AuthorizerId).toBeUndefined();
    }
  });

  it('routes each route to the function named in the topology', () => {
    const fns = functionsByName();
    const integrations = Object.fromEntries(
      Object.entries(resources).filter(([, r]) => r.Type === 'AWS::ApiGatewayV2::Integration'),
    );
    const routes = Object.values(resources).filter((r) => r.Type === 'AWS::ApiGatewayV2::Route');
    for (const spec of TOPOLOGY.routes) {
      const r = routes.find((x) => x.Properties.RouteKey === routeKey(spec))!;
      const integrationId = r.Properties.Target['Fn::Join'][1][1].Ref as string;
      expect(JSON.stringify(integrations[integrationId]!.Properties.IntegrationUri)).toContain(fns.get(spec.fn)!.id);
    }
  });

  it('has a $default stage with JSON access logs, throttling and no CORS', () => {
    const stage = Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    expect(stage.Properties.StageName).toBe('$default');
    expect(stage.Properties.AutoDeploy).toBe(true);
    expect(stage.Properties.AccessLogSettings.DestinationArn).toEqual({
      'Fn::GetAtt': [logicalId(stack.api.accessLogGroup), 'Arn'],
    });
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format);
    expect(format).toMatchObject({
      requestId: '$context.requestId',
      status: '$context.status',
      routeKey: '$context.routeKey',
    });
    expect(stage.Properties.DefaultRouteSettings).toMatchObject({
      ThrottlingRateLimit: 100,
      ThrottlingBurstLimit: 200,
    });
    const api = resources[logicalId(stack.api.httpApi)]!;
    expect(api.Properties.ProtocolType).toBe('HTTP');
    expect(api.Properties.CorsConfiguration).toBeUndefined();
  });

  it('gives the public API URL and the SVID issuer base to the functions whose handlers read them, and no other', () => {
    const endpoint = { 'Fn::GetAtt': [logicalId(stack.api.httpApi), 'ApiEndpoint'] };
    const counts = { ARX_PUBLIC_API_URL: 0, ARX_SVID_ISSUER_BASE: 0 };
    for (const spec of TOPOLOGY.functions) {
      const v = functionsByName().get(spec.name)!.props.Environment.Variables;
      for (const k of ['ARX_PUBLIC_API_URL', 'ARX_SVID_ISSUER_BASE'] as const) {
        if (HANDLER_SETTINGS[spec.entry]!.includes(k)) {
          expect(v[k], `${spec.name} ${k}`).toEqual(endpoint);
          counts[k]++;
        } else expect(v[k], `${spec.name} ${k}`).toBeUndefined();
      }
    }
    // Links are written by the actions functions and compliance packages; SVIDs are minted by
    // identity and verified by the authorizer.
    expect(counts.ARX_PUBLIC_API_URL).toBeGreaterThan(0);
    expect(counts.ARX_PUBLIC_API_URL).toBeLessThan(TOPOLOGY.functions.length);
    expect(functionsByName().get('platform-authorizer')!.props.Environment.Variables.ARX_SVID_ISSUER_BASE).toEqual(
      endpoint,
    );
    expect(functionsByName().get('identity-api')!.props.Environment.Variables.ARX_SVID_ISSUER_BASE).toEqual(endpoint);
  });

  it('outputs the API URL', () => {
    template.hasOutput('ApiUrl', { Value: { 'Fn::GetAtt': [logicalId(stack.api.httpApi), 'ApiEndpoint'] } });
  });
});

describe('ArxEventBus', () => {
  it('creates a custom bus bound as ARX_EVENT_BUS', () => {
    expect(resources[logicalId(stack.eventBus.bus)]!.Type).toBe('AWS::Events::EventBus');
  });

  it('creates one rule per subscription on the ARX bus with source arx and the detail-types', () => {
    const fns = functionsByName();
    for (const sub of TOPOLOGY.events) {
      const r = resources[logicalId(stack.eventBus.rules.get(sub.name))]!;
      if (sub.bus === 'default') {
        // AWS service events (CloudTrail) arrive on the account's default bus.
        expect(r.Properties.EventBusName).toBeUndefined();
        expect(r.Properties.EventPattern).toEqual({
          source: [...sub.sources!],
          'detail-type': [...sub.detailTypes],
          ...(sub.detail ? { detail: sub.detail } : {}),
        });
      } else {
        expect(r.Properties.EventBusName).toEqual({ Ref: logicalId(stack.eventBus.bus) });
        expect(r.Properties.EventPattern).toEqual({ source: ['arx'], 'detail-type': [...sub.detailTypes] });
      }
      expect(JSON.stringify(r.Properties.Targets[0].Arn)).toContain(fns.get(sub.fn)!.id);
    }
  });

  it('creates one scheduled rule per schedule with its rate', () => {
    for (const s of TOPOLOGY.schedules) {
      const r = resources[logicalId(stack.eventBus.rules.get(s.name))]!;
      expect(r.Properties.ScheduleExpression).toBe(s.rate);
      expect(r.Properties.EventBusName).toBeUndefined();
    }
  });

  it('gives every rule target retries, a max event age and an encrypted TLS-only DLQ', () => {
    const rules = Object.values(resources).filter((r) => r.Type === 'AWS::Events::Rule');
    expect(rules.length).toBe(TOPOLOGY.events.length + TOPOLOGY.schedules.length);
    for (const rule of rules) {
      for (const target of rule.Properties.Targets) {
        expect(target.RetryPolicy).toEqual({ MaximumRetryAttempts: 8, MaximumEventAgeInSeconds: 21600 });
        const queueId = target.DeadLetterConfig.Arn['Fn::GetAtt'][0];
        const q = resources[queueId]!;
        expect(q.Type).toBe('AWS::SQS::Queue');
        expect(q.Properties.SqsManagedSseEnabled).toBe(true);
        template.hasResourceProperties('AWS::CloudWatch::Alarm', {
          MetricName: 'ApproximateNumberOfMessagesVisible',
          Dimensions: [{ Name: 'QueueName', Value: { 'Fn::GetAtt': [queueId, 'QueueName'] } }],
          Threshold: 1,
        });
        template.hasResourceProperties('AWS::SQS::QueuePolicy', {
          Queues: [{ Ref: queueId }],
          PolicyDocument: {
            Statement: Match.arrayWith([
              Match.objectLike({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
            ]),
          },
        });
      }
    }
  });
});

describe('F17/F18: API abuse resistance', () => {
  const stage = () => Object.values(resources).find((r) => r.Type === 'AWS::ApiGatewayV2::Stage')!;

  it('F18: the access log never records the request path (e-mail approval tokens live in it), only the route template', () => {
    const fmt = stage().Properties.AccessLogSettings.Format as string;
    expect(fmt).not.toContain('$context.path');
    expect(fmt).not.toContain('$context.resourcePath');
    expect(TOPOLOGY.routes.some((r) => r.path === '/v1/approvals/email/{token}')).toBe(true);
    expect(JSON.parse(fmt).routeKey).toBe('$context.routeKey');
  });

  it('F17: kill-switch routes have their own, higher throttling budget; every other route its own stage-default budget', () => {
    const settings = stage().Properties.RouteSettings as Record<
      string,
      { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }
    >;
    const kill = [
      'POST /v1/agents/{id}/terminate',
      'POST /v1/cohorts/{id}/terminate',
      'POST /v1/org/{tenant_id}/emergency_stop',
    ];
    for (const k of kill) expect(settings[k], k).toEqual({ ThrottlingRateLimit: 500, ThrottlingBurstLimit: 1000 });
    expect(settings['POST /v1/actions']).toEqual({ ThrottlingRateLimit: 100, ThrottlingBurstLimit: 200 });
    expect(Object.keys(settings).sort()).toEqual(TOPOLOGY.routes.map(routeKey).sort());
    expect(stack.api.killSwitchRoutes).toEqual(expect.arrayContaining(kill));
    // The stage is created after the routes its settings name.
    const deps = [(stage() as { DependsOn?: string | string[] }).DependsOn ?? []].flat();
    expect(deps).toEqual(expect.arrayContaining([logicalId(stack.api.routes.get('POST /v1/agents/{id}/terminate'))]));
  });

  it('F17: the authorizer and every kill-switch function have reserved concurrency', () => {
    const fns = functionsByName();
    expect(fns.get(AUTHORIZER_FN)!.props.ReservedConcurrentExecutions).toBe(50);
    const kill = TOPOLOGY.functions.filter((f) => f.capability === 'killswitch');
    expect(kill.length).toBeGreaterThan(1);
    for (const f of kill) expect(fns.get(f.name)!.props.ReservedConcurrentExecutions, f.name).toBe(10);
    expect(fns.get('actions-api')!.props.ReservedConcurrentExecutions).toBeUndefined();
  });
});

describe('Identity credential broker grants (F1, F6, functional defect)', () => {
  const statementsOf = (fnName: string): any[] => {
    const fns = functionsByName();
    const roleId = fns.get(fnName)!.props.Role['Fn::GetAtt'][0];
    return Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement);
  };
  const allows = (fnName: string, action: string) =>
    statementsOf(fnName).filter((s) => s.Effect === 'Allow' && [s.Action].flat().includes(action));

  it('gives the functions that run the aws connector in process (actions-api, actions-callbacks, actions-expiry-sweeper) sts:AssumeRole + SetSourceIdentity', () => {
    for (const fn of ['actions-api', 'actions-callbacks', 'actions-expiry-sweeper', 'identity-credentials']) {
      const st = allows(fn, 'sts:AssumeRole');
      expect(st, fn).toHaveLength(1);
      expect([st[0].Action].flat()).toContain('sts:SetSourceIdentity');
      const env = functionsByName().get(fn)!.props.Environment.Variables;
      // The grant sets no variable: no handler reads one (review 5.4).
      expect(env.ARX_CREDENTIAL_BROKER, fn).toBeUndefined();
      expect(env.ARX_CONTROL_TABLE, fn).toBeDefined();
      expect(env.ARX_REVOCATION_TABLE, fn).toBeDefined();
      expect(env.ARX_CREDENTIAL_ROLE_ARN, fn).toBeUndefined();
    }
  });

  it('the roles registered credential roles trust: exactly the credentialBroker functions carry the broker tag, and the published trust policy requires it', () => {
    const brokerFns = TOPOLOGY.functions.filter((f) => f.uses?.credentialBroker).map((f) => f.name);
    expect(brokerFns).toEqual(expect.arrayContaining(['actions-api', 'actions-callbacks', 'actions-expiry-sweeper']));
    const tagged = new Set<string>();
    for (const [name, fn] of functionsByName()) {
      const role = resources[fn.props.Role['Fn::GetAtt'][0]]!;
      const tags: { Key: string; Value: string }[] = role.Properties.Tags ?? [];
      if (tags.some((t) => t.Key === CREDENTIAL_BROKER_TAG && t.Value === 'true')) tagged.add(name);
    }
    expect([...tagged].sort()).toEqual([...brokerFns].sort());
    // The audit sealer assumes customer destination roles on its own grant, not as the broker.
    expect(tagged.has('audit-sealer')).toBe(false);
    const out = template.toJSON().Outputs.CredentialRoleTrustPolicy;
    const text = JSON.stringify(out.Value);
    expect(text).toContain(`aws:PrincipalTag/${CREDENTIAL_BROKER_TAG}`);
    expect(text).toContain('sts:ExternalId');
    expect(text).toContain(':iam::');
    expect(text).toContain('AWS::AccountId');
    const doc = credentialRoleTrustPolicy('arn:aws:iam::111122223333:root', 'ext-1');
    expect(doc.Statement.map((st) => [st.Action, st.Principal.AWS])).toEqual([
      ['sts:AssumeRole', 'arn:aws:iam::111122223333:root'],
      ['sts:SetSourceIdentity', 'arn:aws:iam::111122223333:root'],
    ]);
    expect(doc.Statement[0]!.Condition.StringEquals).toEqual({
      [`aws:PrincipalTag/${CREDENTIAL_BROKER_TAG}`]: 'true',
      'sts:ExternalId': 'ext-1',
    });
  });

  it('F12b: OAuth client secrets are readable only under arx/*/oauth/*', () => {
    const oauthOnly = (fn: string) =>
      allows(fn, 'secretsmanager:GetSecretValue').filter((s) =>
        JSON.stringify(s.Resource).includes('secret:arx/*/oauth/*'),
      );
    for (const fn of ['identity-credentials', 'actions-api', 'killswitch-step-credentials'])
      expect(oauthOnly(fn), fn).toHaveLength(1);
    // The broker function reads no other secret (the review's arx/* grant is gone).
    const all = allows('identity-credentials', 'secretsmanager:GetSecretValue');
    expect(all).toHaveLength(1);
    expect(JSON.stringify(all[0].Resource)).toContain(':secret:arx/*/oauth/*');
  });

  it('F6: only revoking functions may put the session deny, on tagged roles of this account', () => {
    for (const fn of ['identity-credentials', 'identity-api', 'killswitch-step-credentials']) {
      const [st] = allows(fn, 'iam:PutRolePolicy');
      expect(st, fn).toBeDefined();
      expect(st.Condition).toEqual({ StringEquals: { 'aws:ResourceTag/arx:credential-role': 'true' } });
      expect(JSON.stringify(st.Resource)).toContain(':role/*');
      expect(JSON.stringify(st.Resource)).toContain('AWS::AccountId');
    }
    for (const fn of ['actions-api', 'actions-callbacks', 'actions-expiry-sweeper'])
      expect(allows(fn, 'iam:PutRolePolicy'), fn).toHaveLength(0);
  });
});

describe('Kill-switch drain step (review 1.2)', () => {
  const drain = () => functionsByName().get('killswitch-step-drain')!;
  const statements = (fnName: string): any[] => {
    const roleId = functionsByName().get(fnName)!.props.Role['Fn::GetAtt'][0];
    return Object.values(resources)
      .filter((r) => r.Type === 'AWS::IAM::Policy' && r.Properties.Roles.some((x: any) => x.Ref === roleId))
      .flatMap((r) => r.Properties.PolicyDocument.Statement);
  };

  it('has no SES grant and runs with the default memory, unlike the functions that do notify channels', () => {
    const actionsOf = (fn: string) => statements(fn).flatMap((s) => [s.Action].flat() as string[]);
    expect(actionsOf('killswitch-step-drain').filter((a) => a.startsWith('ses:'))).toEqual([]);
    expect(actionsOf('actions-api').filter((a) => a.startsWith('ses:')).length).toBeGreaterThan(0);
    expect(drain().props.MemorySize).toBe(512); // ArxFunction's default, as every step without memoryMb
    expect(drain().props.MemorySize).toBe(functionsByName().get('killswitch-step-audit')!.props.MemorySize);
  });

  it('reads no bundle bucket, signing key, revocation or inventory table: it needs the action store, the audit sink and the bus only', () => {
    const env = drain().props.Environment.Variables;
    for (const v of ['ARX_CONTROL_TABLE', 'ARX_AUDIT_TABLE', 'ARX_DATA_KEY_ARN', 'ARX_EVENT_BUS'])
      expect(env[v], v).toBeDefined();
    for (const v of ['ARX_BUNDLE_BUCKET', 'ARX_SIGNING_KEY_ARN', 'ARX_REVOCATION_TABLE', 'ARX_INVENTORY_TABLE'])
      expect(env[v], v).toBeUndefined();
  });
});
