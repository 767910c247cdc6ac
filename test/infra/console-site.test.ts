import { App, Aspects } from 'aws-cdk-lib';
import { Annotations, Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { beforeAll, describe, expect, it, vi } from 'vitest';
import { ArxStack, PROJECT_ROOT } from '../../lib/arx-stack.js';
import { ArxConsoleStack } from '../../lib/console-site.js';
import { propsFromContext } from '../../lib/context.js';
import { cdkJsonContext } from '../../lib/synth.js';

// In-process CDK synthesis is CPU-bound and synchronous: allow for a loaded 2-core machine.
vi.setConfig({ testTimeout: 180_000, hookTimeout: 300_000 });

let stack: ArxConsoleStack;
let t: Template;

beforeAll(() => {
  // As bin/arx.ts composes it, with bundling skipped (the console build runs at `cdk synth`).
  const app = new App({ context: { ...cdkJsonContext(), 'aws:cdk:bundling-stacks': [] } });
  const props = propsFromContext(app.node);
  const arx = new ArxStack(app, 'Arx', props);
  stack = new ArxConsoleStack(app, 'ArxConsole', {
    apiUrl: arx.api.url,
    idp: props.idp,
    clientId: 'arx-console',
    auditBucketName: arx.audit.auditBucket.bucketName,
    projectRoot: PROJECT_ROOT,
  });
  Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
  app.synth();
  t = Template.fromStack(stack);
});

describe('ConsoleSite: S3 + CloudFront with origin access control', () => {
  it('keeps the assets bucket private, encrypted and TLS-only, readable by this distribution alone', () => {
    const site = stack.getLogicalId(stack.site.bucket.node.defaultChild as never);
    t.hasResourceProperties('AWS::S3::Bucket', {
      BucketEncryption: {
        ServerSideEncryptionConfiguration: [{ ServerSideEncryptionByDefault: { SSEAlgorithm: 'AES256' } }],
      },
      PublicAccessBlockConfiguration: {
        BlockPublicAcls: true,
        BlockPublicPolicy: true,
        IgnorePublicAcls: true,
        RestrictPublicBuckets: true,
      },
      LoggingConfiguration: Match.objectLike({ LogFilePrefix: 'console/' }),
    });
    const policy = Object.values(t.findResources('AWS::S3::BucketPolicy')).find(
      (p: any) => p.Properties.Bucket.Ref === site,
    ) as any;
    const statements = policy.Properties.PolicyDocument.Statement as any[];
    expect(statements).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }),
        expect.objectContaining({
          Effect: 'Allow',
          Principal: { Service: 'cloudfront.amazonaws.com' },
          Action: 's3:GetObject',
          Condition: { StringEquals: { 'AWS:SourceArn': expect.anything() } },
        }),
      ]),
    );
    t.hasResourceProperties('AWS::CloudFront::OriginAccessControl', {
      OriginAccessControlConfig: Match.objectLike({ OriginAccessControlOriginType: 's3', SigningBehavior: 'always' }),
    });
  });

  it('answers with CSP, HSTS, X-Frame-Options, nosniff and no referrer; redirects http to https', () => {
    t.hasResourceProperties('AWS::CloudFront::ResponseHeadersPolicy', {
      ResponseHeadersPolicyConfig: Match.objectLike({
        SecurityHeadersConfig: Match.objectLike({
          ContentSecurityPolicy: {
            ContentSecurityPolicy: Match.stringLikeRegexp(
              "default-src 'self'; script-src 'self'.*frame-ancestors 'none'",
            ),
            Override: true,
          },
          StrictTransportSecurity: Match.objectLike({ AccessControlMaxAgeSec: 63072000, IncludeSubdomains: true }),
          FrameOptions: { FrameOption: 'DENY', Override: true },
          ContentTypeOptions: { Override: true },
          ReferrerPolicy: { ReferrerPolicy: 'no-referrer', Override: true },
        }),
      }),
    });
    const dist = Object.values(t.findResources('AWS::CloudFront::Distribution'))[0] as any;
    const cfg = dist.Properties.DistributionConfig;
    expect(cfg.DefaultCacheBehavior.ViewerProtocolPolicy).toBe('redirect-to-https');
    expect(cfg.DefaultCacheBehavior.ResponseHeadersPolicyId).toBeDefined();
    expect(cfg.DefaultCacheBehavior.FunctionAssociations).toHaveLength(1);
  });

  it('forwards /v1/* and /tenants/* to the HTTP API uncached, so the console stays same-origin', () => {
    const dist = Object.values(t.findResources('AWS::CloudFront::Distribution'))[0] as any;
    const cfg = dist.Properties.DistributionConfig;
    const behaviors = cfg.CacheBehaviors as any[];
    expect(behaviors.map((b) => b.PathPattern).sort()).toEqual(['/tenants/*', '/v1/*']);
    for (const b of behaviors) {
      expect(b.AllowedMethods).toEqual(expect.arrayContaining(['POST', 'PUT', 'DELETE']));
      expect(b.CachePolicyId).toBe('4135ea2d-6df8-44a3-9df3-4b5a84be39ad'); // CachingDisabled
      const origin = cfg.Origins.find((o: any) => o.Id === b.TargetOriginId);
      expect(origin.CustomOriginConfig.OriginProtocolPolicy).toBe('https-only');
    }
  });

  it('deploys the built console under console/ with its config.json and invalidates /console/*', () => {
    const deploy = Object.values(t.findResources('Custom::CDKBucketDeployment'))[0] as any;
    expect(deploy.Properties.DestinationBucketKeyPrefix).toBe('console/');
    expect(deploy.Properties.SourceObjectKeys).toHaveLength(2);
    // config.json is staged as an asset; its one deploy-time value is the audit bucket's name from the API stack.
    expect(JSON.stringify(deploy.Properties.SourceMarkers)).toContain('Arx:ExportsOutputRefAuditAuditBucket');
    expect(deploy.Properties.DistributionPaths).toEqual(['/console/*']);
  });

  it('has no unacknowledged cdk-nag finding', () => {
    const a = Annotations.fromStack(stack);
    const show = (ms: ReturnType<typeof a.findError>) =>
      ms.map((m) => `${m.id}: ${String(m.entry.data).slice(0, 160)}`);
    expect(show(a.findError('*', Match.stringLikeRegexp('AwsSolutions-.*')))).toEqual([]);
    expect(show(a.findWarning('*', Match.stringLikeRegexp('AwsSolutions-.*')))).toEqual([]);
  });
});
