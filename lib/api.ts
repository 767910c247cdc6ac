import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { routeKey, type RouteSpec } from '../lambdas/shared/topology-types.js';
import type { ArxFunctions } from './bindings.js';
import { pascal } from './bindings.js';

/** The organisation's OIDC identity provider (stack props, from cdk.json context). */
export interface IdpConfig {
  readonly issuer: string;
  readonly audience: string;
  readonly jwksUrl: string;
  readonly tenantClaim: string;
  readonly rolesClaim: string;
}

export interface ArxApiProps {
  /** The topology's functions. */
  readonly functions: ArxFunctions;
  /** Routes to create, one API Gateway route each. */
  readonly routes: readonly RouteSpec[];
  /** Name of the authorizer function in the topology. */
  readonly authorizerFunction: string;
  /** Human IdP settings passed to the authorizer. */
  readonly idp: IdpConfig;
  /**
   * Issuer base of ARX-issued JWT-SVIDs.
   * @default the API endpoint (https://<api-id>.execute-api.<region>.amazonaws.com)
   */
  readonly svidIssuerBase?: string;
  /**
   * Steady-state request rate limit of the stage (requests per second).
   * @default 100
   */
  readonly throttleRateLimit?: number;
  /**
   * Burst limit of the stage.
   * @default 200
   */
  readonly throttleBurstLimit?: number;
  /**
   * Retention of the access-log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly accessLogRetention?: logs.RetentionDays;
}

/** JSON access-log line: one object per request, with the authorizer and integration errors. */
export const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
  path: '$context.path',
  status: '$context.status',
  protocol: '$context.protocol',
  responseLength: '$context.responseLength',
  responseLatency: '$context.responseLatency',
  integrationLatency: '$context.integrationLatency',
  integrationError: '$context.integrationErrorMessage',
  authorizerError: '$context.authorizer.error',
  tenantId: '$context.authorizer.tenantId',
  userAgent: '$context.identity.userAgent',
};

/**
 * The ARX HTTP API: one route per RouteSpec (`bearer` → the Lambda authorizer, `none` → public),
 * a `$default` stage with JSON access logs and throttling, CORS off. The authorizer returns simple
 * responses and is never cached (TTL 0): roles are checked per route in the handlers, and a
 * revoked agent must be refused on its next request.
 */
export class ArxApi extends Construct {
  readonly httpApi: apigwv2.HttpApi;
  readonly stage: apigwv2.HttpStage;
  readonly authorizer: HttpLambdaAuthorizer;
  readonly accessLogGroup: logs.LogGroup;
  /** Routes by route key (`GET /healthz`). */
  readonly routes = new Map<string, apigwv2.HttpRoute>();
  /** `https://<api-id>.execute-api.<region>.<suffix>` (Fn::GetAtt ApiEndpoint). */
  readonly url: string;

  constructor(scope: Construct, id: string, props: ArxApiProps) {
    super(scope, id);
    this.httpApi = new apigwv2.HttpApi(this, 'HttpApi', {
      description: 'ARX control plane API',
      createDefaultStage: false,
    });
    this.url = this.httpApi.apiEndpoint;

    this.accessLogGroup = new logs.LogGroup(this, 'AccessLogs', {
      retention: props.accessLogRetention ?? logs.RetentionDays.ONE_YEAR,
      removalPolicy: RemovalPolicy.RETAIN,
    });
    this.stage = new apigwv2.HttpStage(this, 'DefaultStage', {
      httpApi: this.httpApi,
      stageName: '$default',
      autoDeploy: true,
      throttle: { rateLimit: props.throttleRateLimit ?? 100, burstLimit: props.throttleBurstLimit ?? 200 },
      accessLogSettings: {
        destination: new apigwv2.LogGroupLogDestination(this.accessLogGroup),
        format: apigw.AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FORMAT)),
      },
    });

    const authFn = props.functions.get(props.authorizerFunction);
    const idp = props.idp;
    this.svidIssuerBase = props.svidIssuerBase ?? this.url;
    for (const fn of props.functions.byName.values()) {
      // Links in documents ARX produces (compliance packages' JWKS URL, approval links).
      fn.addEnvironment('ARX_PUBLIC_API_URL', this.url);
      // Identity functions issue the SVIDs the authorizer verifies: same issuer base for both.
      if (fn.spec.capability === 'identity') fn.addEnvironment('ARX_SVID_ISSUER_BASE', this.svidIssuerBase);
    }
    for (const [k, v] of Object.entries({
      ARX_IDP_ISSUER: idp.issuer,
      ARX_IDP_AUDIENCE: idp.audience,
      ARX_IDP_JWKS_URL: idp.jwksUrl,
      ARX_IDP_TENANT_CLAIM: idp.tenantClaim,
      ARX_IDP_ROLES_CLAIM: idp.rolesClaim,
      ARX_SVID_ISSUER_BASE: this.svidIssuerBase,
    })) {
      authFn.addEnvironment(k, v);
    }
    this.authorizer = new HttpLambdaAuthorizer('ArxAuthorizer', authFn.function, {
      authorizerName: 'arx-bearer',
      responseTypes: [HttpLambdaResponseType.SIMPLE],
      resultsCacheTtl: Duration.seconds(0),
      identitySource: ['$request.header.Authorization'],
    });

    const integrations = new Map<string, HttpLambdaIntegration>();
    const publicRoutes: string[] = [];
    for (const r of props.routes) {
      let integration = integrations.get(r.fn);
      if (!integration) {
        integration = new HttpLambdaIntegration(`${pascal(r.fn)}Integration`, props.functions.get(r.fn).function);
        integrations.set(r.fn, integration);
      }
      const key = routeKey(r);
      const [route] = this.httpApi.addRoutes({
        path: r.path,
        methods: [apigwv2.HttpMethod[r.method]],
        integration,
        authorizer: r.auth === 'bearer' ? this.authorizer : new apigwv2.HttpNoneAuthorizer(),
      });
      this.routes.set(key, route!);
      if (r.auth === 'none') {
        publicRoutes.push(key);
        NagSuppressions.addResourceSuppressions(route!, [
          {
            id: 'AwsSolutions-APIG4',
            reason: `${key} is public by design (${r.summary}): health/OpenAPI/JWKS or a route whose body authenticates itself.`,
          },
        ]);
      }
    }
    this.publicRoutes = publicRoutes;

    new CfnOutput(this, 'ApiUrl', { value: this.url, description: 'ARX API base URL' }).overrideLogicalId('ApiUrl');
  }

  /** Route keys served without the authorizer. */
  readonly publicRoutes: readonly string[];
  /** Issuer base of ARX JWT-SVIDs (ARX_SVID_ISSUER_BASE). */
  readonly svidIssuerBase: string;
}
