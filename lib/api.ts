import { CfnOutput, Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as apigw from 'aws-cdk-lib/aws-apigateway';
import * as apigwv2 from 'aws-cdk-lib/aws-apigatewayv2';
import { HttpLambdaAuthorizer, HttpLambdaResponseType } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { routeKey, type RouteSpec } from '../lambdas/shared/topology-types.js';
import type { ArxFunction } from './arx-function.js';
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
   * Separate, higher throttling budget of the kill-switch routes (routes served by killswitch
   * functions), so a flood elsewhere — or junk tokens on other routes — never takes the stop
   * button away from admins (F17). Every other route gets its own budget at the stage default.
   * @default { rateLimit: 500, burstLimit: 1000 }
   */
  readonly killSwitchThrottle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * Reserved concurrency of the Lambda authorizer (guaranteed capacity; also its ceiling). Set 0
   * to leave it unreserved (accounts whose concurrency quota is too low to reserve).
   * @default 50
   */
  readonly authorizerReservedConcurrency?: number;
  /**
   * Reserved concurrency of each kill-switch function (API and saga steps), so the other
   * functions cannot starve them of the account's concurrency. Set 0 to leave them unreserved.
   * @default 10
   */
  readonly killSwitchReservedConcurrency?: number;
  /**
   * Retention of the access-log group.
   * @default logs.RetentionDays.ONE_YEAR
   */
  readonly accessLogRetention?: logs.RetentionDays;
}

/**
 * JSON access-log line: one object per request, with the authorizer and integration errors. The
 * request path is deliberately absent (F18): paths can carry bearer secrets (the e-mail approval
 * link token `/v1/approvals/email/{token}`), while `routeKey` is the route template
 * (`GET /v1/approvals/email/{token}`) and names the route without its parameters.
 */
export const ACCESS_LOG_FORMAT = {
  requestId: '$context.requestId',
  ip: '$context.identity.sourceIp',
  requestTime: '$context.requestTime',
  httpMethod: '$context.httpMethod',
  routeKey: '$context.routeKey',
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
    // Each function gets the API URL (links in approvals and compliance packages) and the SVID issuer
    // base (identity mints SVIDs, the authorizer verifies them) only if its handler reads it.
    for (const fn of props.functions.byName.values()) {
      fn.bindSetting('ARX_PUBLIC_API_URL', this.url);
      fn.bindSetting('ARX_SVID_ISSUER_BASE', this.svidIssuerBase);
    }
    authFn.bindSetting('ARX_IDP_ISSUER', idp.issuer);
    authFn.bindSetting('ARX_IDP_AUDIENCE', idp.audience);
    authFn.bindSetting('ARX_IDP_JWKS_URL', idp.jwksUrl);
    authFn.bindSetting('ARX_IDP_TENANT_CLAIM', idp.tenantClaim);
    authFn.bindSetting('ARX_IDP_ROLES_CLAIM', idp.rolesClaim);
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

    // F17. WAFv2 web ACLs cannot be associated with HTTP APIs (only REST APIs, CloudFront, ALB, …),
    // so the per-client defence here is API Gateway's own: every route gets its own throttling
    // budget, the kill-switch routes a separate higher one, and the authorizer and kill-switch
    // functions reserved concurrency. A per-IP limit needs CloudFront + WAF in front of the API.
    const kill = props.killSwitchThrottle ?? { rateLimit: 500, burstLimit: 1000 };
    const stageRate = props.throttleRateLimit ?? 100;
    const stageBurst = props.throttleBurstLimit ?? 200;
    // CloudFormation's RouteSettings is a free-form map: keys are written as CloudFormation spells them.
    const routeSettings: Record<string, { ThrottlingRateLimit: number; ThrottlingBurstLimit: number }> = {};
    const killRoutes: string[] = [];
    for (const r of props.routes) {
      const isKill = props.functions.get(r.fn).spec.capability === 'killswitch';
      if (isKill) killRoutes.push(routeKey(r));
      routeSettings[routeKey(r)] = isKill
        ? { ThrottlingRateLimit: kill.rateLimit, ThrottlingBurstLimit: kill.burstLimit }
        : { ThrottlingRateLimit: stageRate, ThrottlingBurstLimit: stageBurst };
    }
    const cfnStage = this.stage.node.defaultChild as apigwv2.CfnStage;
    cfnStage.routeSettings = routeSettings;
    // Route settings name routes by key: the stage must be created after them.
    for (const route of this.routes.values()) cfnStage.node.addDependency(route);
    this.killSwitchRoutes = killRoutes;

    const reserve = (fn: ArxFunction, n: number) => {
      if (n > 0) (fn.function.node.defaultChild as lambda.CfnFunction).reservedConcurrentExecutions = n;
    };
    reserve(authFn, props.authorizerReservedConcurrency ?? 50);
    for (const fn of props.functions.byName.values()) {
      if (fn.spec.capability === 'killswitch') reserve(fn, props.killSwitchReservedConcurrency ?? 10);
    }

    new CfnOutput(this, 'ApiUrl', { value: this.url, description: 'ARX API base URL' }).overrideLogicalId('ApiUrl');
  }

  /** Route keys served without the authorizer. */
  readonly publicRoutes: readonly string[];
  /** Route keys with the separate kill-switch throttling budget. */
  readonly killSwitchRoutes: readonly string[];
  /** Issuer base of ARX JWT-SVIDs (ARX_SVID_ISSUER_BASE). */
  readonly svidIssuerBase: string;
}
