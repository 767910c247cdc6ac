import {
  BedrockAgentClient,
  GetAgentActionGroupCommand,
  ListAgentActionGroupsCommand,
  PrepareAgentCommand,
  UpdateAgentActionGroupCommand,
} from '@aws-sdk/client-bedrock-agent';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { AgentRecord } from '../../discovery/core/inventory.js';
import { documentClient } from '../../shared/aws.js';
import type { PlatformKillAdapter, PlatformKillRegistry, PlatformKillResult } from '../core/ports.js';

/** The platform kill command answered with an error or could not be reached. */
export class PlatformUnavailableError extends Error {
  override readonly name = 'PlatformUnavailableError';
}

let bedrock: BedrockAgentClient | undefined;
const bedrockClient = (): BedrockAgentClient => (bedrock ??= new BedrockAgentClient({}));

/**
 * AWS Bedrock agents (seed C6.1 "prepare-with-disabled-actions"): disables every action group of
 * the agent's DRAFT version, then prepares the agent so the running alias stops calling tools.
 * `platform_native_id` is the Bedrock agent id. Idempotent: disabled groups are left alone.
 */
export class BedrockKillAdapter implements PlatformKillAdapter {
  readonly name = 'aws-bedrock-agent';
  constructor(private readonly client: BedrockAgentClient = bedrockClient()) {}

  async kill(agent: AgentRecord): Promise<PlatformKillResult> {
    const agentId = agent.platform_native_id;
    const agentVersion = 'DRAFT';
    const disabled: string[] = [];
    let alreadyDisabled = 0;
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(new ListAgentActionGroupsCommand({ agentId, agentVersion, nextToken, maxResults: 100 }));
      for (const s of page.actionGroupSummaries ?? []) {
        if (s.actionGroupState === 'DISABLED') {
          alreadyDisabled++;
          continue;
        }
        // Update replaces the whole group: carry its definition over, flipping only the state.
        const g = (await this.client.send(new GetAgentActionGroupCommand({ agentId, agentVersion, actionGroupId: s.actionGroupId }))).agentActionGroup;
        if (!g) continue;
        await this.client.send(
          new UpdateAgentActionGroupCommand({
            agentId,
            agentVersion,
            actionGroupId: g.actionGroupId,
            actionGroupName: g.actionGroupName,
            description: g.description,
            parentActionGroupSignature: g.parentActionSignature,
            parentActionGroupSignatureParams: g.parentActionGroupSignatureParams,
            actionGroupExecutor: g.actionGroupExecutor,
            apiSchema: g.apiSchema,
            functionSchema: g.functionSchema,
            actionGroupState: 'DISABLED',
          }),
        );
        disabled.push(String(g.actionGroupId));
      }
      nextToken = page.nextToken;
    } while (nextToken);
    const prepared = await this.client.send(new PrepareAgentCommand({ agentId }));
    return {
      outcome: disabled.length === 0 && alreadyDisabled > 0 ? 'already_stopped' : 'killed',
      detail: { bedrock_agent_id: agentId, disabled_action_groups: disabled, already_disabled: alreadyDisabled, agent_status: prepared.agentStatus ?? null },
    };
  }
}

/** Per-tenant configuration of a generic HTTP kill endpoint for one platform. */
export interface HttpKillTarget {
  readonly url: string;
  /** @default 5000 */
  readonly timeout_ms?: number;
  /** Extra request headers (e.g. an API key the platform expects). */
  readonly headers?: Readonly<Record<string, string>>;
}

/**
 * Generic HTTP kill command: POSTs `{agent_id, platform, platform_native_id, spiffe_id,
 * termination_id, reason}` as JSON to the platform's configured endpoint (Idempotency-Key =
 * termination id + agent id). 2xx = killed, 404/410 = already gone, anything else or no answer
 * within the timeout = PlatformUnavailableError (the saga retries with backoff).
 */
export class HttpKillAdapter implements PlatformKillAdapter {
  readonly name = 'http';
  constructor(
    private readonly target: HttpKillTarget,
    private readonly fetchFn: typeof fetch = fetch,
  ) {}

  async kill(agent: AgentRecord, ctx: { terminationId: string; reason: string }): Promise<PlatformKillResult> {
    let res: Response;
    try {
      res = await this.fetchFn(this.target.url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'idempotency-key': `${ctx.terminationId}.${agent.agent_id}`,
          ...(this.target.headers ?? {}),
        },
        body: JSON.stringify({
          action: 'terminate',
          agent_id: agent.agent_id,
          platform: agent.platform,
          platform_native_id: agent.platform_native_id,
          spiffe_id: agent.spiffe_id,
          termination_id: ctx.terminationId,
          reason: ctx.reason,
        }),
        signal: AbortSignal.timeout(this.target.timeout_ms ?? 5000),
      });
    } catch (e) {
      throw new PlatformUnavailableError(`kill endpoint for ${agent.platform} unreachable: ${(e as Error).name}`, { cause: e });
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { outcome: 'killed', detail: { http_status: res.status } };
    if (res.status === 404 || res.status === 410) return { outcome: 'already_stopped', detail: { http_status: res.status } };
    throw new PlatformUnavailableError(`kill endpoint for ${agent.platform} answered ${res.status}`);
  }
}

const BEDROCK_PLATFORMS = new Set(['bedrock', 'aws-bedrock', 'aws_bedrock', 'bedrock-agent']);

/**
 * Which kill command a tenant's platform gets: a configured HTTP target (control table item
 * `T#<tenant>#KILL#PLATFORM` / `<platform>`) wins; Bedrock platforms use the SDK adapter; others
 * have no kill command (the agent is still refused everywhere ARX enforces).
 */
export class ConfiguredPlatformKillRegistry implements PlatformKillRegistry {
  constructor(
    private readonly controlTable: string,
    private readonly client: DynamoDBDocumentClient = documentClient(),
    private readonly bedrockAdapter: () => PlatformKillAdapter = () => new BedrockKillAdapter(),
  ) {}

  async adapterFor(tenantId: string, platform: string): Promise<PlatformKillAdapter | null> {
    const target = await this.getTarget(tenantId, platform);
    if (target) return new HttpKillAdapter(target);
    if (BEDROCK_PLATFORMS.has(platform.toLowerCase())) return this.bedrockAdapter();
    return null;
  }

  async getTarget(tenantId: string, platform: string): Promise<HttpKillTarget | null> {
    const r = await this.client.send(
      new GetCommand({ TableName: this.controlTable, Key: { pk: `T#${tenantId}#KILL#PLATFORM`, sk: platform }, ConsistentRead: true }),
    );
    if (!r.Item) return null;
    return {
      url: String(r.Item.url),
      ...(r.Item.timeout_ms ? { timeout_ms: Number(r.Item.timeout_ms) } : {}),
      ...(r.Item.headers ? { headers: r.Item.headers as Record<string, string> } : {}),
    };
  }

  async putTarget(tenantId: string, platform: string, target: HttpKillTarget, updatedBy: string, at: string): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.controlTable,
        Item: { pk: `T#${tenantId}#KILL#PLATFORM`, sk: platform, tenant_id: tenantId, platform, ...target, updated_by: updatedBy, updated_at: at },
      }),
    );
  }
}
