import { createApprovalDrainer } from '../../actions/index.js';
import { createActivityReader, createAuditSink } from '../../audit/index.js';
import { credentialBrokerFromEnv, tenantSigner, type CredentialRevocationResult } from '../../identity/index.js';
import { perEnvironment, readSettings } from '../../shared/settings.js';
import type { ActivityReader, ApprovalDrainer, AuditSink } from '../../shared/ports.js';
import type { CredentialRevocation, CredentialRevoker, Signer } from '../core/ports.js';

/*
 * Adapters of the ports other capabilities own: identity's credential broker, actions' drain
 * hook, the audit sink and the audit store (activity for the exit attestation), the tenant signer.
 */

/**
 * Cascade revocation (seed C6.1 step 3) through the identity broker: deletes every
 * CredentialBinding of the agent, evicts its cached credentials in this process, puts the
 * revoke-older-sessions deny (aws:SourceIdentity=<agent>, aws:TokenIssueTime before now) on every
 * role registered to the tenant, and revokes every OAuth access token the broker issued to it
 * (RFC 7009) (F6). Outstanding SVIDs are already refused: step 2's revocation-list entry and
 * step 1's credential-state mirror (`terminated`) are what every SVID verifier checks. When a
 * role or token could not be revoked the broker throws, so the saga retries this step.
 */
export class IdentityCredentialRevoker implements CredentialRevoker {
  constructor(
    private readonly broker: {
      revokeAgentCredentials(tenantId: string, agentId: string): Promise<CredentialRevocationResult>;
    },
  ) {}

  async revokeAgentCredentials(tenantId: string, agentId: string): Promise<CredentialRevocation> {
    const r = await this.broker.revokeAgentCredentials(tenantId, agentId);
    return {
      revoked: r.bindings_revoked + r.cache_evicted + r.oauth_tokens_revoked + r.refresh_tokens_revoked,
      credentials: [
        { kind: 'credential-bindings', bindings_revoked: r.bindings_revoked, cache_evicted: r.cache_evicted },
        { kind: 'sts-sessions', denied_on_roles: r.sessions_denied_roles },
        { kind: 'oauth-tokens', revoked: r.oauth_tokens_revoked, unrevocable: r.oauth_tokens_unrevocable },
        { kind: 'refresh-tokens', revoked: r.refresh_tokens_revoked },
      ],
    };
  }
}

export const credentialRevoker = perEnvironment(
  (): CredentialRevoker => new IdentityCredentialRevoker(credentialBrokerFromEnv()),
);

/**
 * The actions capability's drain hook: cancels pending approvals, refuses approved-not-started
 * actions. Built from the action store, the audit sink and the event bus only (no PDP).
 */
export const drainer = perEnvironment((): ApprovalDrainer => createApprovalDrainer());

/** The audit capability's sink (fails closed: throws when the event is not durably recorded). */
export const auditSink = perEnvironment((): AuditSink => createAuditSink());

/** What the agent did, from the audit table (events by agent) and the chain head. */
export const activityReader = perEnvironment(
  (): ActivityReader => createActivityReader(readSettings(['ARX_AUDIT_TABLE']).ARX_AUDIT_TABLE),
);

/**
 * The tenant signer: each tenant's attestation is signed with that tenant's own registered key
 * (alias/arx/<tenant>/signing, the initial key only for the tenant its tag names), never another's (F25).
 */
export const signer = perEnvironment((): Signer => tenantSigner());
