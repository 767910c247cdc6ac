/**
 * MCP handshakes as discovery evidence (`mcp_handshake`): an MCP client's `initialize` names the
 * client (`clientInfo {name, version}`) and what it offers (`capabilities`: roots, sampling,
 * elicitation, …). Seen by the gateway with an agent's SVID, it is that agent running that client.
 *
 * Identity grounding: platform `mcp`, native id `<arx agent id>/<clientInfo.name>`: one record per
 * client an agent runs (a new client version is the same record; the version is in its signals),
 * and one source entry per gateway and connector it reached (origin `mcp:hosted:<connector>` for the
 * hosted route, `mcp:gateway:<connector>` for `arx mcp-gateway`, which reports through
 * `POST /v1/discovery/handshakes`).
 */
import { z } from 'zod';
import type { DiscoveryEvidenceItem } from './ports.js';

export const MCP_PLATFORM = 'mcp';

const Initialize = z.object({
  method: z.literal('initialize'),
  params: z.object({
    protocolVersion: z.string().min(1).max(64).optional(),
    clientInfo: z.object({
      name: z.string().min(1).max(128),
      version: z.string().min(1).max(64).optional(),
      title: z.string().min(1).max(128).optional(),
    }),
    capabilities: z.record(z.string(), z.unknown()).optional(),
  }),
});

/** The `initialize` requests of a JSON-RPC message or batch (a client sends one; a batch may hold it). */
export function initializeRequests(body: unknown): z.infer<typeof Initialize>['params'][] {
  const msgs = Array.isArray(body) ? body : [body];
  const out: z.infer<typeof Initialize>['params'][] = [];
  for (const m of msgs) {
    const r = Initialize.safeParse(m);
    if (r.success) out.push(r.data.params);
  }
  return out;
}

/** A safe token for capability names and signals (no control characters, bounded). */
const token = (s: string, max = 64): string => s.replace(/[^\w.@:/+-]/g, '_').slice(0, max);

/**
 * The evidence of the `initialize` requests in `body` made by ARX agent `agentId` through
 * `connector`: empty when the body holds none. Declared capabilities are stable facts about the
 * client (`mcp-client:<name>`, `mcp:<capability>`); the version and protocol are signals.
 */
export function handshakeEvidence(
  body: unknown,
  ctx: { agentId: string; connector: string; at: string },
): DiscoveryEvidenceItem[] {
  const seen = new Map<string, DiscoveryEvidenceItem>();
  for (const p of initializeRequests(body)) {
    const client = p.clientInfo.name;
    const caps = Object.keys(p.capabilities ?? {})
      .slice(0, 20)
      .map((k) => `mcp:${token(k)}`);
    seen.set(client, {
      platform: MCP_PLATFORM,
      platform_native_id: `${ctx.agentId}/${client}`,
      name: p.clientInfo.title ?? client,
      observed_at: ctx.at,
      declared_capabilities: [...new Set([`mcp-client:${token(client, 128)}`, ...caps])].sort(),
      signals: [
        `mcp:clientInfo=${token(client, 128)}@${token(p.clientInfo.version ?? 'unknown')}`,
        ...(p.protocolVersion ? [`mcp:protocolVersion=${token(p.protocolVersion)}`] : []),
        `mcp:connector=${token(ctx.connector, 128)}`,
      ],
      arx_agent_id: ctx.agentId,
    });
  }
  return [...seen.values()];
}
