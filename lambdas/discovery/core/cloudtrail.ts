import { principalWithoutSession, type Evidence } from './discovered.js';

/** CloudTrail management events of agent platforms that change the sanctioned inventory. */
export const LIFECYCLE_EVENTS = {
  'bedrock.amazonaws.com': ['CreateAgent', 'UpdateAgent', 'DeleteAgent', 'PrepareAgent'],
  'bedrock-agentcore.amazonaws.com': [
    'CreateAgentRuntime',
    'UpdateAgentRuntime',
    'DeleteAgentRuntime',
    'CreateGateway',
    'UpdateGateway',
    'DeleteGateway',
  ],
} as const;

/** Model calls: a caller that maps to no known agent becomes a shadow agent. */
export const INFERENCE_EVENTS = ['InvokeModel', 'InvokeModelWithResponseStream', 'Converse', 'ConverseStream'] as const;

/** The EventBridge pattern of the CloudTrail rule on the default bus (CDK and `npm run dev`). */
export const CLOUDTRAIL_PATTERN = {
  sources: ['aws.bedrock', 'aws.bedrock-agentcore'],
  detailTypes: ['AWS API Call via CloudTrail'],
  detail: {
    eventSource: Object.keys(LIFECYCLE_EVENTS),
    eventName: [...new Set([...Object.values(LIFECYCLE_EVENTS).flat(), ...INFERENCE_EVENTS])],
  },
} as const;

/** What a CloudTrail event means for the inventory. */
export type CloudTrailFinding =
  | { readonly kind: 'lifecycle'; readonly account: string; readonly region: string; readonly evidence: Evidence }
  | {
      readonly kind: 'inference';
      readonly account: string;
      readonly region: string;
      readonly principalArn: string;
      readonly eventName: string;
      readonly at: string;
    }
  | { readonly kind: 'ignored'; readonly reason: string };

type Obj = Record<string, unknown>;
const obj = (v: unknown): Obj => (v && typeof v === 'object' && !Array.isArray(v) ? (v as Obj) : {});
const str = (v: unknown): string | undefined =>
  typeof v === 'string' && v.length > 0 && v.length <= 2048 ? v : undefined;

/** The calling principal without its session: the session issuer for an assumed role, else the ARN. */
export function callerPrincipal(userIdentity: unknown): string | undefined {
  const u = obj(userIdentity);
  const issuer = str(obj(obj(u.sessionContext).sessionIssuer).arn);
  if (issuer && /^arn:aws[a-z-]*:iam::\d{12}:role\//.test(issuer)) return issuer;
  const arn = str(u.arn);
  return arn ? principalWithoutSession(arn) : undefined;
}

const ACCOUNT = /^\d{12}$/;

/**
 * Interprets an "AWS API Call via CloudTrail" event. Lifecycle events become `list_api` evidence
 * (the platform's own record refreshed by the event); model calls name their principal. Failed
 * calls (`errorCode`) and anything unexpected are ignored, never thrown.
 */
export function interpretCloudTrail(event: unknown): CloudTrailFinding {
  const e = obj(event);
  const d = obj(e.detail);
  if (e['detail-type'] !== 'AWS API Call via CloudTrail')
    return { kind: 'ignored', reason: 'not a CloudTrail API call' };
  const account = str(e.account) ?? str(d.recipientAccountId) ?? str(obj(d.userIdentity).accountId);
  const region = str(e.region) ?? str(d.awsRegion);
  const name = str(d.eventName);
  const src = str(d.eventSource);
  if (!account || !ACCOUNT.test(account) || !region || !name || !src)
    return { kind: 'ignored', reason: 'missing account, region, eventName or eventSource' };
  if (d.errorCode) return { kind: 'ignored', reason: `failed call (${String(d.errorCode)})` };
  const at =
    str(d.eventTime) && !Number.isNaN(Date.parse(String(d.eventTime)))
      ? new Date(String(d.eventTime)).toISOString()
      : (str(e.time) ?? new Date(0).toISOString());
  const req = obj(d.requestParameters);
  const res = obj(d.responseElements);
  const origin = `aws:${account}:${region}`;

  if ((INFERENCE_EVENTS as readonly string[]).includes(name)) {
    const principalArn = callerPrincipal(d.userIdentity);
    if (!principalArn) return { kind: 'ignored', reason: 'model call without a principal ARN' };
    return { kind: 'inference', account, region, principalArn, eventName: name, at };
  }
  if (
    src === 'bedrock.amazonaws.com' &&
    (LIFECYCLE_EVENTS['bedrock.amazonaws.com'] as readonly string[]).includes(name)
  ) {
    const agent = obj(res.agent);
    const id = str(req.agentId) ?? str(agent.agentId) ?? str(res.agentId);
    if (!id) return { kind: 'ignored', reason: `${name} without an agentId` };
    const model = str(agent.foundationModel) ?? str(req.foundationModel);
    const role = str(agent.agentResourceRoleArn) ?? str(req.agentResourceRoleArn);
    return {
      kind: 'lifecycle',
      account,
      region,
      evidence: {
        platform: 'bedrock',
        platform_native_id: id,
        source: 'list_api',
        origin,
        confidence: 1,
        observed_at: at,
        ...((str(agent.agentName) ?? str(req.agentName))
          ? { name: (str(agent.agentName) ?? str(req.agentName))! }
          : {}),
        ...(model ? { declared_capabilities: [`model:${model}`] } : {}),
        ...(role ? { principal_arns: [role] } : {}),
        deleted: name === 'DeleteAgent',
        signals: [`cloudtrail:${name}`],
      },
    };
  }
  if (
    src === 'bedrock-agentcore.amazonaws.com' &&
    (LIFECYCLE_EVENTS['bedrock-agentcore.amazonaws.com'] as readonly string[]).includes(name)
  ) {
    const gateway = name.endsWith('Gateway');
    const id = gateway
      ? (str(req.gatewayIdentifier) ?? str(res.gatewayId))
      : (str(req.agentRuntimeId) ?? str(res.agentRuntimeId));
    if (!id) return { kind: 'ignored', reason: `${name} without an id` };
    const role = str(req.roleArn);
    const label = str(req.agentRuntimeName) ?? str(req.name);
    return {
      kind: 'lifecycle',
      account,
      region,
      evidence: {
        platform: 'bedrock-agentcore',
        platform_native_id: gateway ? `gateway/${id}` : `runtime/${id}`,
        source: 'list_api',
        origin,
        confidence: 1,
        observed_at: at,
        ...(label ? { name: label } : {}),
        declared_capabilities: [gateway ? 'mcp_gateway' : 'agent_runtime'],
        ...(role ? { principal_arns: [role] } : {}),
        deleted: name.startsWith('Delete'),
        signals: [`cloudtrail:${name}`],
      },
    };
  }
  return { kind: 'ignored', reason: `${src} ${name} is not a discovery event` };
}
