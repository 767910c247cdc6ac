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
import { inventory } from './deps.js';

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
 * Invalidates every outstanding SVID of the agent by bumping its credential generation in the
 * inventory (verifiers refuse SVIDs of an older generation), independent of the DRL entry.
 */
export class GenerationBumpRevoker implements CredentialRevoker {
  constructor(
    private readonly inv: InventoryStore,
    private readonly clock: Clock = systemClock,
  ) {}

  async revokeAgentCredentials(tenantId: string, agentId: string): Promise<CredentialRevocation> {
    const rec = await this.inv.get(tenantId, agentId);
    if (!rec) return { revoked: 0, credentials: [] };
    const at = this.clock.now().toISOString();
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
    );
    return {
      revoked: 1,
      credentials: [
        { kind: 'jwt-svid', spiffe_id: rec.spiffe_id, invalidated_generation: rec.credential_generation, new_generation: next.credential_generation, last_rotated_at: rec.last_rotated_at ?? null },
      ],
    };
  }
}

export const credentialRevoker = lazyConfig((): CredentialRevoker => new GenerationBumpRevoker(inventory()));

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
