import { BedrockAgentClient, GetAgentCommand, ListAgentsCommand } from '@aws-sdk/client-bedrock-agent';
import {
  BedrockAgentCoreControlClient,
  GetAgentRuntimeCommand,
  GetGatewayCommand,
  ListAgentRuntimesCommand,
  ListGatewaysCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  GetPolicyCommand,
  GetPolicyVersionCommand,
  GetRolePolicyCommand,
  IAMClient,
  ListAttachedRolePoliciesCommand,
  ListRolePoliciesCommand,
} from '@aws-sdk/client-iam';
import { LambdaClient, ListFunctionsCommand, type FunctionConfiguration } from '@aws-sdk/client-lambda';
import { fromTemporaryCredentials } from '@aws-sdk/credential-providers';
import type { AwsCredentialIdentityProvider } from '@aws-sdk/types';
import type { Evidence } from '../core/discovered.js';
import { scoreLambda, type AgentSource, type SourceConfig, type SourceScan } from '../core/sources.js';

/** SDK clients for one source account and region. */
export interface AwsClients {
  bedrockAgent(region: string): BedrockAgentClient;
  agentCore(region: string): BedrockAgentCoreControlClient;
  lambda(region: string): LambdaClient;
  iam(): IAMClient;
}

/**
 * Builds the clients for a source: the function's own credentials for its own account, or the
 * source's cross-account scan role (assumed with the tenant id as external id).
 */
export type ClientFactory = (source: SourceConfig) => AwsClients;

export const defaultClientFactory: ClientFactory = (source) => {
  const credentials: AwsCredentialIdentityProvider | undefined = source.role_arn
    ? fromTemporaryCredentials({
        params: {
          RoleArn: source.role_arn,
          RoleSessionName: 'arx-discovery',
          ExternalId: source.tenant_id,
          DurationSeconds: 900,
        },
      })
    : undefined;
  const opts = (region: string) => ({ region, ...(credentials ? { credentials } : {}) });
  return {
    bedrockAgent: (region) => new BedrockAgentClient(opts(region)),
    agentCore: (region) => new BedrockAgentCoreControlClient(opts(region)),
    lambda: (region) => new LambdaClient(opts(region)),
    iam: () => new IAMClient(opts('us-east-1')),
  };
};

const msg = (e: unknown): string =>
  `${(e as Error).name ?? 'Error'}: ${(e as Error).message ?? String(e)}`.slice(0, 200);
const iso = (d: Date | string | undefined, fallback: Date): string =>
  d ? new Date(d).toISOString() : fallback.toISOString();

/** Runs `fn` over `items` with at most `n` in flight. */
async function pool<T, R>(items: readonly T[], n: number, fn: (t: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(n, items.length) }, async () => {
      while (i < items.length) {
        const k = i++;
        out[k] = await fn(items[k]!);
      }
    }),
  );
  return out;
}

/** Bedrock agents (`bedrock-agent` ListAgents + GetAgent) → platform `bedrock`, native id the agent id. */
export class BedrockAgentsSource implements AgentSource {
  readonly name = 'bedrock-agents';
  readonly platforms = ['bedrock'] as const;
  constructor(
    private readonly clients: ClientFactory = defaultClientFactory,
    private readonly concurrency = 8,
  ) {}

  async scan(source: SourceConfig, region: string, now: Date): Promise<SourceScan> {
    const client = this.clients(source).bedrockAgent(region);
    const origin = `aws:${source.account_id}:${region}`;
    const summaries: { agentId: string; agentName?: string; updatedAt?: Date }[] = [];
    let nextToken: string | undefined;
    do {
      const r = await client.send(new ListAgentsCommand({ maxResults: 100, nextToken }));
      for (const a of r.agentSummaries ?? [])
        if (a.agentId)
          summaries.push({
            agentId: a.agentId,
            ...(a.agentName ? { agentName: a.agentName } : {}),
            ...(a.updatedAt ? { updatedAt: a.updatedAt } : {}),
          });
      nextToken = r.nextToken;
    } while (nextToken);
    const errors: string[] = [];
    const evidence = await pool(summaries, this.concurrency, async (s): Promise<Evidence> => {
      let a:
        | {
            agentName?: string;
            foundationModel?: string;
            agentResourceRoleArn?: string;
            agentStatus?: string;
            updatedAt?: Date;
          }
        | undefined;
      try {
        a = (await client.send(new GetAgentCommand({ agentId: s.agentId }))).agent;
      } catch (e) {
        errors.push(`GetAgent ${s.agentId}: ${msg(e)}`);
      }
      return {
        platform: 'bedrock',
        platform_native_id: s.agentId,
        source: 'list_api',
        origin,
        confidence: 1,
        observed_at: now.toISOString(),
        ...((a?.agentName ?? s.agentName) ? { name: (a?.agentName ?? s.agentName)! } : {}),
        declared_capabilities: a?.foundationModel ? [`model:${a.foundationModel}`] : [],
        ...(a?.agentResourceRoleArn ? { principal_arns: [a.agentResourceRoleArn] } : {}),
        signals: [`bedrock-agent:${a?.agentStatus ?? 'listed'}`, `updated:${iso(a?.updatedAt ?? s.updatedAt, now)}`],
      };
    });
    return { evidence, complete: true, errors };
  }
}

const listGateways = (client: BedrockAgentCoreControlClient, nextToken?: string) =>
  client.send(new ListGatewaysCommand({ maxResults: 100, nextToken }));

/** Bedrock AgentCore runtimes and gateways (`bedrock-agentcore-control`) → platform `bedrock-agentcore`. */
export class AgentCoreSource implements AgentSource {
  readonly name = 'bedrock-agentcore';
  readonly platforms = ['bedrock-agentcore'] as const;
  constructor(
    private readonly clients: ClientFactory = defaultClientFactory,
    private readonly concurrency = 8,
  ) {}

  async scan(source: SourceConfig, region: string, now: Date): Promise<SourceScan> {
    const client = this.clients(source).agentCore(region);
    const origin = `aws:${source.account_id}:${region}`;
    const errors: string[] = [];
    const runtimes: { id: string; name?: string }[] = [];
    let token: string | undefined;
    do {
      const r = await client.send(new ListAgentRuntimesCommand({ maxResults: 100, nextToken: token }));
      for (const a of r.agentRuntimes ?? [])
        if (a.agentRuntimeId)
          runtimes.push({ id: a.agentRuntimeId, ...(a.agentRuntimeName ? { name: a.agentRuntimeName } : {}) });
      token = r.nextToken;
    } while (token);
    const gateways: { id: string; name?: string }[] = [];
    token = undefined;
    do {
      const r: Awaited<ReturnType<typeof listGateways>> = await listGateways(client, token);
      for (const g of r.items ?? [])
        if (g.gatewayId) gateways.push({ id: g.gatewayId, ...(g.name ? { name: g.name } : {}) });
      token = r.nextToken;
    } while (token);
    const rt = await pool(runtimes, this.concurrency, async (r): Promise<Evidence> => {
      let role: string | undefined;
      try {
        role = (await client.send(new GetAgentRuntimeCommand({ agentRuntimeId: r.id }))).roleArn;
      } catch (e) {
        errors.push(`GetAgentRuntime ${r.id}: ${msg(e)}`);
      }
      return {
        platform: 'bedrock-agentcore',
        platform_native_id: `runtime/${r.id}`,
        source: 'list_api',
        origin,
        confidence: 1,
        observed_at: now.toISOString(),
        ...(r.name ? { name: r.name } : {}),
        declared_capabilities: ['agent_runtime'],
        ...(role ? { principal_arns: [role] } : {}),
        signals: ['agentcore:runtime'],
      };
    });
    const gw = await pool(gateways, this.concurrency, async (g): Promise<Evidence> => {
      let role: string | undefined;
      let protocol: string | undefined;
      try {
        const d = await client.send(new GetGatewayCommand({ gatewayIdentifier: g.id }));
        role = d.roleArn;
        protocol = d.protocolType;
      } catch (e) {
        errors.push(`GetGateway ${g.id}: ${msg(e)}`);
      }
      return {
        platform: 'bedrock-agentcore',
        platform_native_id: `gateway/${g.id}`,
        source: 'list_api',
        origin,
        confidence: 1,
        observed_at: now.toISOString(),
        ...(g.name ? { name: g.name } : {}),
        declared_capabilities: ['mcp_gateway', ...(protocol ? [`protocol:${protocol}`] : [])],
        ...(role ? { principal_arns: [role] } : {}),
        signals: ['agentcore:gateway'],
      };
    });
    return { evidence: [...rt, ...gw], complete: true, errors };
  }
}

/**
 * Lambda functions that carry agent or model SDKs or may call models: environment variable names,
 * layers, and the execution role's policies (inline and attached) allowing bedrock:InvokeModel*.
 */
export class LambdaFunctionsSource implements AgentSource {
  readonly name = 'lambda-functions';
  readonly platforms = ['aws-lambda'] as const;
  constructor(
    private readonly clients: ClientFactory = defaultClientFactory,
    private readonly concurrency = 4,
  ) {}

  async scan(source: SourceConfig, region: string, now: Date): Promise<SourceScan> {
    const clients = this.clients(source);
    const lambda = clients.lambda(region);
    const iam = clients.iam();
    const origin = `aws:${source.account_id}:${region}`;
    const fns: FunctionConfiguration[] = [];
    let marker: string | undefined;
    do {
      const r = await lambda.send(new ListFunctionsCommand({ MaxItems: 50, Marker: marker }));
      fns.push(...(r.Functions ?? []));
      marker = r.NextMarker;
    } while (marker);
    const errors: string[] = [];
    const roleActions = new Map<string, Promise<string[]>>();
    const actionsOf = (roleArn: string) => {
      if (!roleActions.has(roleArn)) {
        roleActions.set(
          roleArn,
          this.roleActions(iam, roleArn).catch((e) => {
            errors.push(`role policies ${roleArn}: ${msg(e)}`);
            return [];
          }),
        );
      }
      return roleActions.get(roleArn)!;
    };
    const found = await pool(fns, this.concurrency, async (f) =>
      scoreLambda(
        {
          functionArn: f.FunctionArn!,
          functionName: f.FunctionName!,
          ...(f.Role ? { roleArn: f.Role } : {}),
          environmentKeys: Object.keys(f.Environment?.Variables ?? {}),
          layerArns: (f.Layers ?? []).map((l) => l.Arn!).filter(Boolean),
          roleActions: f.Role ? await actionsOf(f.Role) : [],
        },
        origin,
        now,
      ),
    );
    return { evidence: found.filter((e): e is Evidence => e !== null), complete: errors.length === 0, errors };
  }

  /** Allowed actions in the role's inline and attached policies (Allow statements only). */
  private async roleActions(iam: IAMClient, roleArn: string): Promise<string[]> {
    const roleName = roleArn.split('/').pop()!;
    const docs: string[] = [];
    let marker: string | undefined;
    do {
      const r = await iam.send(new ListRolePoliciesCommand({ RoleName: roleName, Marker: marker }));
      for (const p of r.PolicyNames ?? []) {
        const d = await iam.send(new GetRolePolicyCommand({ RoleName: roleName, PolicyName: p }));
        if (d.PolicyDocument) docs.push(d.PolicyDocument);
      }
      marker = r.IsTruncated ? r.Marker : undefined;
    } while (marker);
    marker = undefined;
    do {
      const r: { AttachedPolicies?: { PolicyArn?: string }[]; IsTruncated?: boolean; Marker?: string } = await iam.send(
        new ListAttachedRolePoliciesCommand({ RoleName: roleName, Marker: marker }),
      );
      for (const p of r.AttachedPolicies ?? []) {
        const pol = await iam.send(new GetPolicyCommand({ PolicyArn: p.PolicyArn! }));
        const v = await iam.send(
          new GetPolicyVersionCommand({ PolicyArn: p.PolicyArn!, VersionId: pol.Policy!.DefaultVersionId! }),
        );
        if (v.PolicyVersion?.Document) docs.push(v.PolicyVersion.Document);
      }
      marker = r.IsTruncated ? r.Marker : undefined;
    } while (marker);
    return docs.flatMap(allowedActions);
  }
}

/** Actions of the Allow statements of a (possibly URL-encoded) IAM policy document. */
export function allowedActions(doc: string): string[] {
  let parsed: { Statement?: unknown };
  try {
    parsed = JSON.parse(doc.trim().startsWith('%') || doc.includes('%22') ? decodeURIComponent(doc) : doc);
  } catch {
    return [];
  }
  const stmts = Array.isArray(parsed.Statement) ? parsed.Statement : parsed.Statement ? [parsed.Statement] : [];
  return stmts.flatMap((s: { Effect?: string; Action?: string | string[] }) =>
    s?.Effect === 'Allow' ? (Array.isArray(s.Action) ? s.Action : s.Action ? [s.Action] : []) : [],
  );
}

/** The three AWS sources a scan runs for an `aws_account` source. */
export function awsSources(clients: ClientFactory = defaultClientFactory): AgentSource[] {
  return [new BedrockAgentsSource(clients), new AgentCoreSource(clients), new LambdaFunctionsSource(clients)];
}
