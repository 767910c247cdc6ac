import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { CfnOutput, DockerImage, Duration, Fn, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import * as cloudfront from 'aws-cdk-lib/aws-cloudfront';
import * as origins from 'aws-cdk-lib/aws-cloudfront-origins';
import * as s3 from 'aws-cdk-lib/aws-s3';
import * as s3deploy from 'aws-cdk-lib/aws-s3-deployment';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { AccessLogs } from './access-logs.js';
import type { IdpConfig } from './api.js';

export interface ConsoleSiteProps {
  /** The HTTP API's endpoint (https://<id>.execute-api.<region>.amazonaws.com); `/v1/*` is forwarded to it. */
  readonly apiUrl: string;
  /** The organisation's IdP: the console signs in against its issuer (OIDC code + PKCE). */
  readonly idp: IdpConfig;
  /** The console's OIDC client id at the IdP (a public client, no secret). */
  readonly clientId: string;
  /** Name of the audit bucket, shown in the `arx-verify` command. */
  readonly auditBucketName?: string;
  /** Repository root (console/ lives there). */
  readonly projectRoot: string;
  /** Bucket for the site bucket's server access logs. */
  readonly accessLogs: AccessLogs;
}

/**
 * The console as static assets: a private S3 bucket read by CloudFront through origin access
 * control, security headers on every answer, and `/v1/*` and `/tenants/*` forwarded to the HTTP
 * API so the console and the API share one origin (no CORS, `connect-src 'self'`).
 */
export class ConsoleSite extends Construct {
  readonly bucket: s3.Bucket;
  readonly distribution: cloudfront.Distribution;
  readonly url: string;

  constructor(scope: Construct, id: string, props: ConsoleSiteProps) {
    super(scope, id);
    this.bucket = new s3.Bucket(this, 'Assets', {
      encryption: s3.BucketEncryption.S3_MANAGED,
      enforceSSL: true,
      blockPublicAccess: s3.BlockPublicAccess.BLOCK_ALL,
      objectOwnership: s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
      versioned: true,
      lifecycleRules: [{ noncurrentVersionExpiration: Duration.days(30) }],
      removalPolicy: RemovalPolicy.RETAIN,
      ...props.accessLogs.forBucket('console'),
    });

    const issuerOrigin = new URL(props.idp.issuer).origin;
    const headers = new cloudfront.ResponseHeadersPolicy(this, 'SecurityHeaders', {
      comment: 'ARX console: CSP, HSTS, no framing, no sniffing, no referrer',
      securityHeadersBehavior: {
        contentSecurityPolicy: {
          contentSecurityPolicy: [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            `connect-src 'self' ${issuerOrigin}`,
            `form-action 'self' ${issuerOrigin}`,
            "frame-ancestors 'none'",
            "base-uri 'self'",
            "object-src 'none'",
          ].join('; '),
          override: true,
        },
        strictTransportSecurity: {
          accessControlMaxAge: Duration.days(730),
          includeSubdomains: true,
          preload: true,
          override: true,
        },
        frameOptions: { frameOption: cloudfront.HeadersFrameOption.DENY, override: true },
        contentTypeOptions: { override: true },
        referrerPolicy: { referrerPolicy: cloudfront.HeadersReferrerPolicy.NO_REFERRER, override: true },
        xssProtection: { protection: true, modeBlock: true, override: true },
      },
    });

    // `/` and `/console` → `/console/`; `/console/` → its index.html (S3 has no directory index here).
    const paths = new cloudfront.Function(this, 'Paths', {
      runtime: cloudfront.FunctionRuntime.JS_2_0,
      comment: 'ARX console: index and redirects',
      code: cloudfront.FunctionCode.fromInline(
        [
          'function handler(event) {',
          '  var r = event.request;',
          "  if (r.uri === '/' || r.uri === '/console') {",
          "    return { statusCode: 308, statusDescription: 'Permanent Redirect', headers: { location: { value: '/console/' } } };",
          '  }',
          "  if (r.uri === '/console/') r.uri = '/console/index.html';",
          '  return r;',
          '}',
        ].join('\n'),
      ),
    });

    const apiDomain = Fn.select(2, Fn.split('/', props.apiUrl));
    const api = new origins.HttpOrigin(apiDomain, { protocolPolicy: cloudfront.OriginProtocolPolicy.HTTPS_ONLY });
    const apiBehavior: cloudfront.BehaviorOptions = {
      origin: api,
      viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.HTTPS_ONLY,
      allowedMethods: cloudfront.AllowedMethods.ALLOW_ALL,
      cachePolicy: cloudfront.CachePolicy.CACHING_DISABLED,
      originRequestPolicy: cloudfront.OriginRequestPolicy.ALL_VIEWER_EXCEPT_HOST_HEADER,
      responseHeadersPolicy: headers,
    };
    this.distribution = new cloudfront.Distribution(this, 'Distribution', {
      comment: 'ARX console and API',
      defaultBehavior: {
        origin: origins.S3BucketOrigin.withOriginAccessControl(this.bucket),
        viewerProtocolPolicy: cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
        cachePolicy: cloudfront.CachePolicy.CACHING_OPTIMIZED,
        responseHeadersPolicy: headers,
        functionAssociations: [{ function: paths, eventType: cloudfront.FunctionEventType.VIEWER_REQUEST }],
      },
      additionalBehaviors: { '/v1/*': apiBehavior, '/tenants/*': apiBehavior },
      httpVersion: cloudfront.HttpVersion.HTTP2_AND_3,
      priceClass: cloudfront.PriceClass.PRICE_CLASS_100,
    });
    this.url = `https://${this.distribution.distributionDomainName}`;

    const consoleDir = join(props.projectRoot, 'console');
    new s3deploy.BucketDeployment(this, 'Deploy', {
      sources: [
        // Built by esbuild at synth (console/build.ts); skipped where the app skips bundling (tests).
        s3deploy.Source.asset(consoleDir, {
          exclude: ['screenshots', 'screenshots/**'],
          bundling: {
            image: DockerImage.fromRegistry('public.ecr.aws/docker/library/node:22'),
            local: {
              tryBundle(outputDir: string): boolean {
                execFileSync(process.execPath, ['--import', 'tsx', join(consoleDir, 'build.ts'), outputDir], {
                  cwd: props.projectRoot,
                  stdio: 'inherit',
                });
                return true;
              },
            },
          },
        }),
        s3deploy.Source.jsonData('config.json', {
          api_url: '',
          issuer: props.idp.issuer,
          client_id: props.clientId,
          roles_claim: props.idp.rolesClaim,
          tenant_claim: props.idp.tenantClaim,
          scope: 'openid email',
          ...(props.auditBucketName ? { audit_bucket: props.auditBucketName } : {}),
        }),
      ],
      destinationBucket: this.bucket,
      destinationKeyPrefix: 'console/',
      distribution: this.distribution,
      distributionPaths: ['/console/*'],
      memoryLimit: 256,
    });

    NagSuppressions.addResourceSuppressions(this.distribution, [
      {
        id: 'AwsSolutions-CFR1',
        reason:
          'The console is used by the organisation’s staff wherever they are; sign-in is enforced by the IdP, not by geography.',
      },
      {
        id: 'AwsSolutions-CFR2',
        reason:
          'A CloudFront WAF web ACL must be created in us-east-1; the API behind /v1/* has its own per-route throttling and Lambda authorizer, and the static assets are public code.',
      },
      {
        id: 'AwsSolutions-CFR3',
        reason:
          'Standard CloudFront logs need an ACL-enabled bucket; ARX buckets enforce bucket-owner ownership (no ACLs). API calls through /v1/* are logged by the HTTP API access log.',
      },
      {
        id: 'AwsSolutions-CFR4',
        reason:
          'With the default *.cloudfront.net certificate CloudFront negotiates TLSv1 at minimum; TLSv1.2_2021 needs a custom domain and an ACM certificate in us-east-1, which this stack does not own.',
      },
    ]);
  }
}

export interface ConsoleStackProps extends StackProps, Omit<ConsoleSiteProps, 'accessLogs'> {}

/**
 * The console in its own stack: it reads the API stack's endpoint and audit bucket name, and its
 * deployment (a CDK custom resource) stays out of the control plane's own template.
 */
export class ArxConsoleStack extends Stack {
  readonly site: ConsoleSite;

  constructor(scope: Construct, id: string, props: ConsoleStackProps) {
    super(scope, id, props);
    const accessLogs = new AccessLogs(this, 'AccessLogs');
    this.site = new ConsoleSite(this, 'Console', { ...props, accessLogs });
    new CfnOutput(this, 'ConsoleUrl', {
      value: `${this.site.url}/console/`,
      description: 'ARX console (register its /console/ URL as the redirect URI of the IdP client)',
    }).overrideLogicalId('ConsoleUrl');
    // The BucketDeployment's handler is CDK's own singleton Lambda (Python), shared by the stack.
    for (const c of this.node.findAll())
      if (c.node.id.startsWith('Custom::CDKBucketDeployment'))
        NagSuppressions.addResourceSuppressions(
          c,
          [
            {
              id: 'AwsSolutions-IAM4',
              reason:
                'CDK’s BucketDeployment handler uses AWSLambdaBasicExecutionRole for its own CloudWatch logs only.',
            },
            {
              id: 'AwsSolutions-IAM5',
              reason:
                'CDK’s BucketDeployment handler copies from the CDK asset bucket into this site bucket; CDK scopes the grant to those two buckets’ objects (object-level wildcards).',
            },
            {
              id: 'AwsSolutions-L1',
              reason: 'The BucketDeployment handler’s runtime is chosen and updated by aws-cdk-lib, not by this stack.',
            },
          ],
          true,
        );
  }
}
