import {
  BedrockAgentClient,
  ListTagsForResourceCommand,
  GetAgentActionGroupCommand,
  ListAgentActionGroupsCommand,
  PrepareAgentCommand,
  UpdateAgentActionGroupCommand,
} from '@aws-sdk/client-bedrock-agent';
import { GetCommand, PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import { GetCallerIdentityCommand, STSClient } from '@aws-sdk/client-sts';
import type { AgentRecord } from '../../shared/ports.js';
import { documentClient } from '../../shared/aws.js';
import type { PlatformKillAdapter, PlatformKillRegistry, PlatformKillResult } from '../core/ports.js';

/** The platform kill command answered with an error or could not be reached. */
export class PlatformUnavailableError extends Error {
  override readonly name = 'PlatformUnavailableError';
}

/** The platform resource is not tagged as the tenant's (F13): ARX never touches it. */
export class PlatformOwnershipError extends Error {
  override readonly name = 'PlatformOwnershipError';
}

/** Tag a Bedrock agent must carry, with the tenant id as value, before ARX may stop it. */
export const OWNERSHIP_TAG = 'arx:tenant';

let bedrock: BedrockAgentClient | undefined;
const bedrockClient = (): BedrockAgentClient => (bedrock ??= new BedrockAgentClient({}));

/**
 * AWS Bedrock agents (seed C6.1 "prepare-with-disabled-actions"): disables every action group of
 * the agent's DRAFT version, then prepares the agent so the running alias stops calling tools.
 * `platform_native_id` is the Bedrock agent id. Idempotent: disabled groups are left alone.
 */
export class BedrockKillAdapter implements PlatformKillAdapter {
  readonly name = 'aws-bedrock-agent';
  private account: Promise<string> | null = null;
  constructor(
    private readonly client: BedrockAgentClient = bedrockClient(),
    private readonly sts: STSClient = new STSClient({}),
  ) {}

  /** `arn:<partition>:bedrock:<region>:<account>:agent/<id>` of an agent id in this account and region. */
  private async agentArn(agentId: string): Promise<string> {
    this.account ??= this.sts.send(new GetCallerIdentityCommand({})).then((r) => {
      if (!r.Account) throw new Error('STS returned no account');
      return r.Account;
    });
    this.account.catch(() => (this.account = null));
    const region = await this.client.config.region();
    const partition = region.startsWith('cn-') ? 'aws-cn' : region.startsWith('us-gov-') ? 'aws-us-gov' : 'aws';
    return `arn:${partition}:bedrock:${region}:${await this.account}:agent/${agentId}`;
  }

  /**
   * F13: the Bedrock agent named by the free-text `platform_native_id` must carry the tag
   * `arx:tenant=<tenant>`; otherwise it belongs to another tenant (or to nobody in ARX) and the
   * kill is refused before any change. The IAM grant also requires the tag (aws:ResourceTag).
   */
  async assertOwned(agent: AgentRecord): Promise<string> {
    if (!/^[0-9A-Za-z_-]{1,100}$/.test(agent.platform_native_id))
      throw new PlatformOwnershipError('platform_native_id is not a Bedrock agent id');
    const arn = await this.agentArn(agent.platform_native_id);
    let tags: Record<string, string>;
    try {
      tags = (await this.client.send(new ListTagsForResourceCommand({ resourceArn: arn }))).tags ?? {};
    } catch (e) {
      throw new PlatformOwnershipError(
        `the tags of bedrock agent ${agent.platform_native_id} cannot be read (${(e as Error).name}); refusing to change it`,
      );
    }
    if (tags[OWNERSHIP_TAG] !== agent.tenant_id) {
      throw new PlatformOwnershipError(
        `bedrock agent ${agent.platform_native_id} is not tagged ${OWNERSHIP_TAG}=${agent.tenant_id}; refusing to change it`,
      );
    }
    return arn;
  }

  async kill(agent: AgentRecord): Promise<PlatformKillResult> {
    await this.assertOwned(agent);
    const agentId = agent.platform_native_id;
    const agentVersion = 'DRAFT';
    const disabled: string[] = [];
    let alreadyDisabled = 0;
    let nextToken: string | undefined;
    do {
      const page = await this.client.send(
        new ListAgentActionGroupsCommand({ agentId, agentVersion, nextToken, maxResults: 100 }),
      );
      for (const s of page.actionGroupSummaries ?? []) {
        if (s.actionGroupState === 'DISABLED') {
          alreadyDisabled++;
          continue;
        }
        // Update replaces the whole group: carry its definition over, flipping only the state.
        const g = (
          await this.client.send(
            new GetAgentActionGroupCommand({ agentId, agentVersion, actionGroupId: s.actionGroupId }),
          )
        ).agentActionGroup;
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
      detail: {
        bedrock_agent_id: agentId,
        disabled_action_groups: disabled,
        already_disabled: alreadyDisabled,
        agent_status: prepared.agentStatus ?? null,
      },
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
      throw new PlatformUnavailableError(`kill endpoint for ${agent.platform} unreachable: ${(e as Error).name}`, {
        cause: e,
      });
    }
    await res.arrayBuffer().catch(() => undefined);
    if (res.ok) return { outcome: 'killed', detail: { http_status: res.status } };
    if (res.status === 404 || res.status === 410)
      return { outcome: 'already_stopped', detail: { http_status: res.status } };
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
      new GetCommand({
        TableName: this.controlTable,
        Key: { pk: `T#${tenantId}#KILL#PLATFORM`, sk: platform },
        ConsistentRead: true,
      }),
    );
    if (!r.Item) return null;
    return {
      url: String(r.Item.url),
      ...(r.Item.timeout_ms ? { timeout_ms: Number(r.Item.timeout_ms) } : {}),
      ...(r.Item.headers ? { headers: r.Item.headers as Record<string, string> } : {}),
    };
  }

  async putTarget(
    tenantId: string,
    platform: string,
    target: HttpKillTarget,
    updatedBy: string,
    at: string,
  ): Promise<void> {
    await this.client.send(
      new PutCommand({
        TableName: this.controlTable,
        Item: {
          pk: `T#${tenantId}#KILL#PLATFORM`,
          sk: platform,
          tenant_id: tenantId,
          platform,
          ...target,
          updated_by: updatedBy,
          updated_at: at,
        },
      }),
    );
  }
}
