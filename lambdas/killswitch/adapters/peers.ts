import { NotFoundException } from '@aws-sdk/client-kms';
import type { InventoryStore } from '../../discovery/core/inventory.js';
import { systemClock, type Clock } from '../../shared/clock.js';
import { lazyConfig, readConfig } from '../../shared/config.js';
import { newId } from '../../shared/ids.js';
import type { AuditSink } from '../../shared/ports.js';
import { actionsDeps } from '../../actions/adapters/deps.js';
import { DynamoAuditStore } from '../../audit/adapters/dynamo-audit-store.js';
import { createAuditSink } from '../../audit/sink.js';
import { AuditActivityReader } from './audit-activity.js';
import type { ActivityReader, ApprovalDrainer, CredentialRevocation, CredentialRevoker } from '../core/ports.js';
import { KmsSigner } from './aws.js';
import { agentState, inventory } from './deps.js';
import { credentialBrokerFromEnv } from '../../identity/broker.js';
import type { AgentStatePut } from '../core/saga.js';

/**
 * Adapters of the ports other capabilities own (identity's broker, actions' drain hook, the
 * audit sink and reader). Where a capability has not published its hook yet, the adapter says
 * so with PeerNotWiredError: the step fails, is retried and ends `failed` (partial_failure),
 * while the revocation (steps 1–2) stays in force.
 */
export class PeerNotWiredError extends Error {
  override readonly name = 'PeerNotWiredError';
}

/**
 * Cascade revocation (seed C6.1 step 3): the identity broker deletes every CredentialBinding of the
 * agent (and evicts its cache in this process), then the credential generation is bumped — in the
 * inventory and in identity's credential-state mirror, one transaction — so every outstanding
 * SVID is stale even where the revocation list is not consulted.
 */
export class IdentityCredentialRevoker implements CredentialRevoker {
  constructor(
    private readonly broker: { revokeAgentCredentials(tenantId: string, agentId: string): Promise<{ cache_evicted: number; bindings_revoked: number }> },
    private readonly inv: InventoryStore,
    private readonly state: AgentStatePut,
    private readonly clock: Clock = systemClock,
  ) {}

  async revokeAgentCredentials(tenantId: string, agentId: string): Promise<CredentialRevocation> {
    const broker = await this.broker.revokeAgentCredentials(tenantId, agentId);
    const rec = await this.inv.get(tenantId, agentId);
    if (!rec) return { revoked: broker.bindings_revoked, credentials: [{ kind: 'bindings', revoked: broker.bindings_revoked }] };
    const at = this.clock.now().toISOString();
    const status = rec.status === 'terminated' ? 'terminated' : null;
    const next = await this.inv.update(
      rec,
      { credential_generation: rec.credential_generation + 1 },
      {
        at,
        actor: 'arx:killswitch',
        reason: 'credentials revoked on termination',
        change: {
          event_id: newId('evt'),
          tenant_id: tenantId,
          agent_id: agentId,
          change: 'rotated',
          version: rec.version + 1,
          status: rec.status,
          at,
          actor: 'arx:killswitch',
          correlation_id: newId('cor'),
          trace_id: newId('trc'),
        },
      },
      status ? { extra: [this.state(tenantId, agentId, { generation: rec.credential_generation + 1, status }, at)] } : {},
    );
    return {
      revoked: broker.bindings_revoked + 1,
      credentials: [
        { kind: 'credential-bindings', revoked: broker.bindings_revoked, cache_evicted: broker.cache_evicted },
        { kind: 'jwt-svid', spiffe_id: rec.spiffe_id, invalidated_generation: rec.credential_generation, new_generation: next.credential_generation, last_rotated_at: rec.last_rotated_at ?? null },
      ],
    };
  }
}

export const credentialRevoker = lazyConfig((): CredentialRevoker => new IdentityCredentialRevoker(credentialBrokerFromEnv(), inventory(), agentState()));

/** The actions capability's drain hook: cancels pending approvals, refuses approved-not-started actions. */
export const drainer = lazyConfig(
  (): ApprovalDrainer => ({
    cancelPendingForAgent: async (tenantId, agentId, reason) => ({
      cancelled: await actionsDeps().service.cancelPendingForAgent(tenantId, agentId, reason),
    }),
  }),
);

/** The audit capability's sink (fails closed: throws when the event is not durably recorded). */
export const auditSink = lazyConfig((): AuditSink => createAuditSink());

/** What the agent did, from the audit table (events by agent) and the chain head. */
export const activityReader = lazyConfig(
  (): ActivityReader => new AuditActivityReader(new DynamoAuditStore(readConfig(['ARX_AUDIT_TABLE']).ARX_AUDIT_TABLE)),
);

/** The tenant's signing key: alias/arx/<tenant>/signing, or the initial tenant key (ARX_SIGNING_KEY_ARN). */
export const signer = lazyConfig(() => {
  const initial = readConfig(['ARX_SIGNING_KEY_ARN']).ARX_SIGNING_KEY_ARN;
  const aliasSigner = new KmsSigner((t) => `alias/arx/${t}/signing`);
  const initialSigner = new KmsSigner(() => initial);
  return {
    async sign(tenantId: string, data: Uint8Array) {
      try {
        return await aliasSigner.sign(tenantId, data);
      } catch (e) {
        if (e instanceof NotFoundException || (e as Error).name === 'NotFoundException') return initialSigner.sign(tenantId, data);
        throw e;
      }
    },
  };
});
