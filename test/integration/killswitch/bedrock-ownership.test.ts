import { describe, it, expect, beforeAll } from 'vitest';
import { BedrockAgentClient } from '@aws-sdk/client-bedrock-agent';
import type { AgentRecord } from '../../../lambdas/shared/ports.js';
import { BedrockKillAdapter, PlatformOwnershipError } from '../../../lambdas/killswitch/adapters/platforms.js';
import { suffix } from '../policy/fixtures.js';

const bedrock = new BedrockAgentClient({});
/**
 * Creates a Bedrock agent in moto over its REST API: the SDK cannot read moto's CreateAgent answer
 * (epoch numbers where it expects RFC 3339 strings), while ListTagsForResource works with the SDK.
 */
const createAgent = async (tags?: Record<string, string>): Promise<{ agentId: string; agentArn: string }> => {
  const res = await fetch(`${process.env.AWS_ENDPOINT_URL}/agents/`, {
    method: 'PUT',
    headers: {
      'content-type': 'application/json',
      authorization:
        'AWS4-HMAC-SHA256 Credential=testing/20261201/us-east-1/bedrock/aws4_request, SignedHeaders=host, Signature=0',
    },
    body: JSON.stringify({
      agentName: `agent-${suffix()}`,
      agentResourceRoleArn: 'arn:aws:iam::123456789012:role/bedrock-agent',
      ...(tags ? { tags } : {}),
    }),
  });
  if (res.status !== 200) throw new Error(`moto CreateAgent answered ${res.status}`);
  return ((await res.json()) as { agent: { agentId: string; agentArn: string } }).agent;
};

const record = (tenantId: string, nativeId: string): AgentRecord => ({
  tenant_id: tenantId,
  agent_id: `agt_${suffix()}`,
  spiffe_id: `spiffe://${tenantId}.arx/aws-bedrock-agent/x`,
  platform: 'aws-bedrock-agent',
  platform_native_id: nativeId,
  owner: {
    oidc_sub: 'owner-1',
    attested_at: '2026-12-01T00:00:00Z',
    attestation_method: 'registration',
    status: 'live',
  },
  status: 'active',
  version: 1,
  created_at: '2026-12-01T00:00:00Z',
  valid_from: '2026-12-01T00:00:00Z',
  credential_generation: 1,
  changed_by: 'test',
  change_reason: 'registered',
});

describe('Bedrock kill command ownership (moto bedrock-agent)', () => {
  const tenantA = `acme-${suffix()}`;
  const tenantB = `globex-${suffix()}`;
  let ownA: { agentId: string; agentArn: string };
  let ownB: { agentId: string };
  let untagged: { agentId: string };
  beforeAll(async () => {
    ownA = await createAgent({ 'arx:tenant': tenantA });
    ownB = await createAgent({ 'arx:tenant': tenantB });
    untagged = await createAgent();
  });

  it("F13: tenant A cannot kill tenant B's Bedrock agent by registering its id", async () => {
    const adapter = new BedrockKillAdapter(bedrock);
    await expect(adapter.kill(record(tenantA, ownB.agentId!))).rejects.toBeInstanceOf(PlatformOwnershipError);
  });

  it('F13: an agent without the arx:tenant tag (not governed by ARX) is never touched', async () => {
    const adapter = new BedrockKillAdapter(bedrock);
    await expect(adapter.kill(record(tenantA, untagged.agentId!))).rejects.toThrow(/not tagged arx:tenant=/);
    await expect(adapter.kill(record(tenantA, 'NOSUCHAGENT'))).rejects.toBeInstanceOf(PlatformOwnershipError);
    await expect(adapter.kill(record(tenantA, '../agent/x'))).rejects.toBeInstanceOf(PlatformOwnershipError);
  });

  it("F13: the tenant's own tagged agent passes the ownership check", async () => {
    expect(await new BedrockKillAdapter(bedrock).assertOwned(record(tenantA, ownA.agentId!))).toBe(ownA.agentArn);
  });
});
