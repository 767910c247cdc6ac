import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, Aspects, Stack } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import * as sfn from 'aws-cdk-lib/aws-stepfunctions';
import * as tasks from 'aws-cdk-lib/aws-stepfunctions-tasks';
import { AwsSolutionsChecks } from 'cdk-nag';
import { describe, expect, it, vi } from 'vitest';
import type { FunctionSpec } from '../../lambdas/shared/topology-types.js';
import { Actions } from '../../lib/actions.js';
import { MissingHandlerError, packageClosure } from '../../lib/arx-function.js';
import { PROJECT_ROOT } from '../../lib/arx-stack.js';
import { ArxStateMachine } from '../../lib/arx-state-machine.js';
import { ArxFunctions, ResourceRegistry, UnboundResourceError } from '../../lib/bindings.js';
import { ContextError, propsFromContext } from '../../lib/context.js';
import { ArxEventBus } from '../../lib/event-bus.js';
import { Identity } from '../../lib/identity.js';
import { PlatformStorage } from '../../lib/platform-storage.js';

// In-process CDK synthesis is CPU-bound and synchronous: allow for a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

/** An entry that exists in the repository (the platform API handler). */
const ENTRY = 'lambdas/platform/handlers/api.ts';
/** A handler that reads ARX_TERMINATION_STATE_MACHINE_ARN (the kill-switch API). */
const STOPPER = 'lambdas/killswitch/handlers/api.ts';

const spec = (over: Partial<FunctionSpec> = {}): FunctionSpec => ({
  name: 'test-fn',
  capability: 'platform',
  entry: ENTRY,
  description: 'fixture',
  uses: {},
  ...over,
});

/** A stack with bundling skipped and cdk-nag attached. */
function testStack(): { app: App; stack: Stack; registry: ResourceRegistry } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  return { app, stack: new Stack(app, 'Test'), registry: new ResourceRegistry() };
}

const nagFindings = (stack: Stack): string[] => {
  const a = Annotations.fromStack(stack);
  return [
    ...a.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')),
    ...a.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')),
  ].map((m) => `${m.id}: ${String(m.entry.data).slice(0, 200)}`);
};

const envOf = (template: Template, fnName: string): Record<string, unknown> => {
  const fns = Object.values(template.findResources('AWS::Lambda::Function')) as any[];
  return fns.find((f) => f.Properties.Environment.Variables.ARX_FUNCTION_NAME === fnName)!.Properties.Environment
    .Variables;
};

const statementsOf = (template: Template): any[] =>
  Object.values(template.findResources('AWS::IAM::Policy')).flatMap((p: any) => p.Properties.PolicyDocument.Statement);

describe('propsFromContext', () => {
  const good = {
    'arx:idpIssuer': 'https://idp.example.com/',
    'arx:idpAudience': 'arx',
    'arx:idpJwksUrl': 'https://idp.example.com/jwks.json',
    'arx:idpTenantClaim': 'tid',
    'arx:idpRolesClaim': 'roles',
    'arx:tenants': ['acme', 'globex'],
  };

  it('returns the IdP settings and tenants when the context is complete', () => {
    const props = propsFromContext(new App({ context: good }).node);
    expect(props).toEqual({
      idp: {
        issuer: 'https://idp.example.com/',
        audience: 'arx',
        jwksUrl: 'https://idp.example.com/jwks.json',
        tenantClaim: 'tid',
        rolesClaim: 'roles',
      },
      tenants: ['acme', 'globex'],
      svidIssuerBase: undefined,
    });
  });

  it('accepts tenants given on the command line as a comma-separated string', () => {
    const props = propsFromContext(new App({ context: { ...good, 'arx:tenants': 'acme, globex' } }).node);
    expect(props.tenants).toEqual(['acme', 'globex']);
  });

  it('fails naming every missing or malformed value', () => {
    const ctx = { ...good, 'arx:idpIssuer': 'http://insecure', 'arx:tenants': ['Bad Tenant'] } as Record<
      string,
      unknown
    >;
    delete ctx['arx:idpAudience'];
    const run = () => propsFromContext(new App({ context: ctx }).node);
    expect(run).toThrow(ContextError);
    expect(run).toThrow(/arx:idpAudience is missing/);
    expect(run).toThrow(/arx:idpIssuer must be an https:\/\/ URL/);
    expect(run).toThrow(/arx:tenants has invalid tenant id\(s\) \["Bad Tenant"\]/);
  });

  it('fails when no tenant is configured', () => {
    expect(() => propsFromContext(new App({ context: { ...good, 'arx:tenants': [] } }).node)).toThrow(
      /arx:tenants must be a non-empty list/,
    );
  });
});

describe('ArxFunction', () => {
  it('fails synth with a message naming the function and the missing handler file', () => {
    const { stack, registry } = testStack();
    let n = 0;
    const create = () =>
      new ArxFunctions(stack, `Fns${n++}`, {
        functions: [spec({ name: 'ghost-api', capability: 'audit', entry: 'lambdas/audit/handlers/ghost.ts' })],
        projectRoot: PROJECT_ROOT,
        registry,
      });
    expect(create).toThrow(MissingHandlerError);
    expect(create).toThrow(/"ghost-api" \(audit\): handler entry "lambdas\/audit\/handlers\/ghost.ts" does not exist/);
  });

  it('sets ARX_FUNCTION_NAME, NODE_OPTIONS and the spec environment on the function', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [spec({ environment: { EXTRA: '1' } })],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    fns.bindResources();
    const env = envOf(Template.fromStack(stack), 'test-fn');
    expect(env).toMatchObject({ ARX_FUNCTION_NAME: 'test-fn', NODE_OPTIONS: '--enable-source-maps', EXTRA: '1' });
  });

  it('bundles the handler with esbuild into a minified ESM index.mjs with the createRequire banner, a source map and its nodeModules copied beside it', () => {
    const outdir = mkdtempSync(join(tmpdir(), 'arx-cdk-'));
    try {
      const app = new App({ outdir });
      const stack = new Stack(app, 'Bundled');
      new ArxFunctions(stack, 'Fns', {
        functions: [spec({ nodeModules: ['@cedar-policy/cedar-wasm'] })],
        projectRoot: PROJECT_ROOT,
        registry: new ResourceRegistry(),
      }).bindResources();
      app.synth();
      const assetDirs = readdirSync(outdir).filter((d) => d.startsWith('asset.'));
      expect(assetDirs).toHaveLength(1);
      const dir = join(outdir, assetDirs[0]!);
      const code = readFileSync(join(dir, 'index.mjs'), 'utf8');
      expect(
        code.startsWith("import { createRequire } from 'module';const require = createRequire(import.meta.url);"),
      ).toBe(true);
      expect(code).toMatch(/export\s*\{[^}]*as handler/);
      expect(code.length / code.split('\n').length).toBeGreaterThan(1000); // minified: long lines
      expect(existsSync(join(dir, 'index.mjs.map'))).toBe(true);
      // Installed offline from the local node_modules (no npm install during synth).
      expect(existsSync(join(dir, 'node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm'))).toBe(true);
    } finally {
      rmSync(outdir, { recursive: true, force: true });
    }
  }, 60_000);
});

describe('packageClosure', () => {
  it('lists a nodeModules package and fails naming a package that is not installed', () => {
    expect(packageClosure(PROJECT_ROOT, ['@cedar-policy/cedar-wasm'])).toEqual([
      'node_modules/@cedar-policy/cedar-wasm',
    ]);
    expect(() => packageClosure(PROJECT_ROOT, ['not-installed-pkg-xyz'], 'policy-api')).toThrow(
      /"policy-api": nodeModules package "not-installed-pkg-xyz" is not installed/,
    );
  });
});

describe('ResourceRegistry', () => {
  it('fails synth clearly when a function uses a state machine no construct registered', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [spec({ name: 'stopper', uses: { terminationStateMachine: 'write' } })],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    expect(() => fns.bindResources()).toThrow(UnboundResourceError);
    expect(() =>
      new ArxFunctions(stack, 'Fns2', {
        functions: [spec({ name: 'x', uses: { approvalStateMachine: 'read' } })],
        projectRoot: PROJECT_ROOT,
        registry,
      }).bindResources(),
    ).toThrow(/function "x" uses "approvalStateMachine" \(grant only\) but no construct provides it yet/);
  });

  it('binds a registered ArxStateMachine: env var Ref + StartExecution, nag-clean', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [
        spec({ name: 'stopper', entry: STOPPER, uses: { terminationStateMachine: 'write' } }),
        spec({ name: 'step', entry: ENTRY }),
      ],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    const wf = new ArxStateMachine(stack, 'Termination', {
      definitionBody: sfn.DefinitionBody.fromChainable(
        new tasks.LambdaInvoke(stack, 'Step', { lambdaFunction: fns.get('step').function, payloadResponseOnly: true }),
      ),
    });
    registry.registerStateMachine('terminationStateMachine', wf.stateMachine);
    fns.bindResources();

    const template = Template.fromStack(stack);
    const smId = stack.getLogicalId(wf.stateMachine.node.defaultChild as any);
    expect(envOf(template, 'stopper').ARX_TERMINATION_STATE_MACHINE_ARN).toEqual({ Ref: smId });
    expect(statementsOf(template)).toContainEqual(
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: smId } }),
    );
    template.hasResourceProperties('AWS::StepFunctions::StateMachine', {
      StateMachineType: 'STANDARD',
      TracingConfiguration: { Enabled: true },
      LoggingConfiguration: Match.objectLike({ Level: 'ALL', IncludeExecutionData: false }),
    });
    expect(() => registry.registerStateMachine('terminationStateMachine', wf.stateMachine)).toThrow(/registered twice/);
    expect(nagFindings(stack)).toEqual([]);
  });

  it('grants a use to a function whose handler does not read its variable, and sets no variable', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [
        spec({ name: 'stopper', entry: STOPPER, uses: { terminationStateMachine: 'write' } }),
        spec({ name: 'grant-only', entry: ENTRY, uses: { terminationStateMachine: 'write' } }),
      ],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    const wf = new ArxStateMachine(stack, 'Termination', {
      definitionBody: sfn.DefinitionBody.fromChainable(new sfn.Pass(stack, 'Noop')),
    });
    registry.registerStateMachine('terminationStateMachine', wf.stateMachine);
    fns.bindResources();

    const template = Template.fromStack(stack);
    const smId = stack.getLogicalId(wf.stateMachine.node.defaultChild as any);
    expect(envOf(template, 'stopper').ARX_TERMINATION_STATE_MACHINE_ARN).toEqual({ Ref: smId });
    expect(envOf(template, 'grant-only').ARX_TERMINATION_STATE_MACHINE_ARN).toBeUndefined();
    const roleOf = (name: string) =>
      Object.values(template.findResources('AWS::Lambda::Function')).find(
        (r: any) => r.Properties.Environment.Variables.ARX_FUNCTION_NAME === name,
      )!.Properties.Role['Fn::GetAtt'][0];
    const grantOnly = Object.values(template.findResources('AWS::IAM::Policy')).filter((p: any) =>
      p.Properties.Roles.some((r: any) => r.Ref === roleOf('grant-only')),
    );
    expect(grantOnly.flatMap((p: any) => p.Properties.PolicyDocument.Statement)).toContainEqual(
      expect.objectContaining({ Action: 'states:StartExecution', Resource: { Ref: smId } }),
    );
    expect(fns.get('grant-only').bindSetting('ARX_PUBLIC_API_URL', 'https://api.example')).toBe(false);
    expect(fns.get('stopper').bindSetting('ARX_MAX_TOKEN_TTL_S', '60')).toBe(true);
  });

  it('turns extraPermissions into statements and acknowledges their wildcards with the given reason', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [
        spec({
          extraPermissions: [
            {
              actions: ['sts:AssumeRole'],
              resources: ['arn:aws:iam::*:role/arx-broker-*'],
              reason: 'Credential broker assumes per-tenant broker roles named arx-broker-<tenant>.',
            },
          ],
        }),
      ],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    fns.bindResources();
    const template = Template.fromStack(stack);
    expect(statementsOf(template)).toContainEqual(
      expect.objectContaining({ Action: 'sts:AssumeRole', Resource: 'arn:aws:iam::*:role/arx-broker-*' }),
    );
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('Identity', () => {
  it('grants an identity function signing on tenant keys and tag-constrained key lifecycle, nag-clean', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [
        spec({
          name: 'identity-api',
          capability: 'identity',
          entry: 'lambdas/identity/handlers/api.ts',
          uses: { signingKey: 'write', dataKey: 'write' },
        }),
      ],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    const identity = new Identity(stack, 'Identity', { registry, functions: fns, tenants: ['acme', 'globex'] });
    new PlatformStorage(stack, 'Platform', { registry });
    fns.bindResources();
    const template = Template.fromStack(stack);
    const st = statementsOf(template);
    const acmeId = stack.getLogicalId(identity.signingKeys.get('acme')!.node.defaultChild as any);
    expect(envOf(template, 'identity-api').ARX_SIGNING_KEY_ARN).toEqual({ 'Fn::GetAtt': [acmeId, 'Arn'] });
    const actionsOf = (s: any) => [s.Action].flat();
    expect(st.find((s) => actionsOf(s).includes('kms:CreateKey'))).toMatchObject({
      Resource: '*',
      Condition: {
        Null: { 'aws:RequestTag/arx:tenant': 'false' },
        StringEquals: { 'kms:KeySpec': 'ECC_NIST_P256', 'kms:KeyUsage': 'SIGN_VERIFY' },
      },
    });
    expect(st.find((s) => actionsOf(s).includes('kms:ScheduleKeyDeletion'))).toMatchObject({
      Condition: { Null: { 'aws:ResourceTag/arx:tenant': 'false' } },
    });
    expect(st.some((s) => actionsOf(s).includes('kms:Sign') && JSON.stringify(s.Resource).includes(acmeId))).toBe(true);
    expect(nagFindings(stack)).toEqual([]);
    // Resource::* has two causes on this role (X-Ray, kms:CreateKey): the acknowledgement names both.
    const policy = Object.values(template.findResources('AWS::IAM::Policy'))[0] as any;
    const star = policy.Metadata.cdk_nag.rules_to_suppress.find(
      (r: any) => JSON.stringify(r.applies_to) === '["Resource::*"]',
    );
    expect(star.reason).toMatch(/X-Ray.*Also: kms:CreateKey/);
  });

  it("grants a non-identity signer (policy bundles, attestations) a tenant's first key but never key deletion", () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [spec({ name: 'policy-api', capability: 'policy', uses: { signingKey: 'write' } })],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    new Identity(stack, 'Identity', { registry, functions: fns, tenants: ['acme'] });
    fns.bindResources();
    const st = statementsOf(Template.fromStack(stack));
    const actionsOf = (s: any) => [s.Action].flat();
    expect(st.find((s) => actionsOf(s).includes('kms:CreateKey'))).toMatchObject({
      Resource: '*',
      Condition: {
        Null: { 'aws:RequestTag/arx:tenant': 'false' },
        StringEquals: { 'kms:KeySpec': 'ECC_NIST_P256', 'kms:KeyUsage': 'SIGN_VERIFY' },
      },
    });
    expect(st.some((s) => actionsOf(s).includes('kms:Sign'))).toBe(true);
    expect(st.flatMap(actionsOf)).not.toContain('kms:ScheduleKeyDeletion');
    expect(nagFindings(stack)).toEqual([]);
  });

  it('grants a non-identity reader only GetPublicKey/DescribeKey, never Sign or key lifecycle', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [spec({ name: 'verifier', capability: 'audit', uses: { signingKey: 'read' } })],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    new Identity(stack, 'Identity', { registry, functions: fns, tenants: ['acme'] });
    fns.bindResources();
    const actions = statementsOf(Template.fromStack(stack)).flatMap((s) => [s.Action].flat());
    expect(actions).toContain('kms:GetPublicKey');
    expect(actions).not.toContain('kms:Sign');
    expect(actions).not.toContain('kms:CreateKey');
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('Actions', () => {
  it('grants connector secrets under the ARX prefix and sets ARX_SECRET_PREFIX, nag-clean', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', {
      functions: [spec({ name: 'connectors', capability: 'actions', entry: 'lambdas/actions/handlers/api.ts' })],
      projectRoot: PROJECT_ROOT,
      registry,
    });
    const platform = new PlatformStorage(stack, 'Platform', { registry });
    const bus = new ArxEventBus(stack, 'Events', { registry });
    const shared = { bus: bus.bus, controlTable: platform.controlTable, dataKey: platform.dataKey };
    const actions = new Actions(stack, 'Actions', { registry, functions: fns, shared });
    actions.grantSecrets(fns.get('connectors'), 'write');
    fns.bindResources();
    const template = Template.fromStack(stack);
    expect(envOf(template, 'connectors').ARX_SECRET_PREFIX).toBe('arx/');
    const st = statementsOf(template).find((s) => [s.Action].flat().includes('secretsmanager:PutSecretValue'));
    expect(JSON.stringify(st.Resource)).toContain(':secret:arx/*');
    expect(nagFindings(stack)).toEqual([]);
  });
});

describe('ArxEventBus', () => {
  it('refuses a schedule that is not a rate() expression the local runtime can run', () => {
    const { stack, registry } = testStack();
    const fns = new ArxFunctions(stack, 'Fns', { functions: [spec()], projectRoot: PROJECT_ROOT, registry });
    const bus = new ArxEventBus(stack, 'Events', { registry });
    expect(() => bus.addSchedules([{ name: 'nightly', fn: 'test-fn', rate: 'cron(0 3 * * ? *)' }], fns)).toThrow(
      /not rate\(N minute/,
    );
  });
});
