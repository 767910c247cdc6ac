import { createPublicKey, verify as cryptoVerify, type KeyObject } from 'node:crypto';
import type { AgentActivity, AgentRecord } from '../../shared/ports.js';
import { canonicalJson, sha256B64 } from '../../shared/ids.js';
import type { PublicJwk } from '../../shared/ports.js';
import { verifyTenantSignature } from '../../shared/tenant-signature.js';
import type { Termination } from './model.js';
import type { Signer } from './ports.js';

export const ATTESTATION_TYPE = 'arx.exit-attestation.v1';
export const SIGNATURE_TYPE = 'arx.exit-attestation.signature.v1';

export interface AttestationInput {
  readonly termination: Termination;
  readonly agents: readonly { agentId: string; history: readonly AgentRecord[]; activity: AgentActivity }[];
  readonly chainHead: { block_id?: string; height?: number; head_hash?: string } | null;
  readonly generatedAt: string;
  readonly since: string;
}

/**
 * The exit attestation (seed C6.3): declared intent, who terminated and when, per agent what it
 * did (action counts over the window, approvals, drift), its last credential state and what the
 * saga did to it, and the final audit block. Deterministic: same input → same bytes (canonical JSON).
 */
export function buildAttestation(input: AttestationInput): Record<string, unknown> {
  const t = input.termination;
  const step = (name: string) => t.steps.find((s) => s.name === name);
  const resultOf = (name: string, agentId: string) => step(name)?.results?.[agentId] ?? null;
  return {
    type: ATTESTATION_TYPE,
    generated_at: input.generatedAt,
    window: { since: input.since, until: input.generatedAt },
    termination: {
      termination_id: t.termination_id,
      tenant_id: t.tenant_id,
      scope: t.scope,
      target_id: t.target_id,
      declared_intent: t.reason,
      initiated_by: t.initiated_by,
      ...(t.confirmed_by ? { confirmed_by: t.confirmed_by } : {}),
      initiated_at: t.initiated_at,
    },
    agents: [...input.agents]
      .sort((a, b) => a.agentId.localeCompare(b.agentId))
      .map(({ agentId, history, activity }) => {
        const current = history.at(-1);
        return {
          agent_id: agentId,
          ...(current
            ? {
                spiffe_id: current.spiffe_id,
                platform: current.platform,
                platform_native_id: current.platform_native_id,
                ...(current.name ? { name: current.name } : {}),
                ...(current.cohort ? { cohort: current.cohort } : {}),
                owner: {
                  oidc_sub: current.owner.oidc_sub,
                  ...(current.owner.email ? { email: current.owner.email } : {}),
                  status: current.owner.status,
                },
                registered_at: current.created_at,
                final_status: current.status,
              }
            : { final_status: 'unknown' }),
          status_history: history.map((h) => ({
            version: h.version,
            status: h.status,
            valid_from: h.valid_from,
            changed_by: h.changed_by,
            change_reason: h.change_reason,
          })),
          activity: {
            action_counts: activity.action_counts,
            total_actions: Object.values(activity.action_counts).reduce((a, b) => a + b, 0),
            approvals: activity.approvals,
            drift_events: activity.drift_events ?? [],
            events_seen: activity.events_seen,
            ...(activity.unavailable_reason ? { unavailable_reason: activity.unavailable_reason } : {}),
          },
          last_credentials: resultOf('credentials', agentId),
          revocation: resultOf('revocation', agentId),
          platform_kill: resultOf('platform', agentId),
          drain: resultOf('drain', agentId),
          audit: resultOf('audit', agentId),
        };
      }),
    steps: t.steps.map((s) => ({
      name: s.name,
      status: s.status,
      attempts: s.attempts,
      ...(s.error ? { error: s.error } : {}),
    })),
    final_audit_block: input.chainHead ?? null,
  };
}

export interface SignedAttestation {
  readonly attestation: Record<string, unknown>;
  readonly signature: {
    readonly type: string;
    /** The exact bytes signed (UTF-8): binds tenant, termination and the attestation digest. */
    readonly statement: string;
    /** `ES256` (earlier attestations: `ECDSA_SHA_256` with a KMS key id and DER). */
    readonly algorithm: string;
    /** kid of the tenant key (RFC 7638 thumbprint, in the tenant's published keys). */
    readonly key_id: string;
    /** `raw` = JOSE R‖S (64 bytes); `der` only in attestations written before the tenant signer. */
    readonly format: 'der' | 'raw';
    readonly value: string;
  };
}

/** The statement that is signed: small enough for KMS RAW signing (≤ 4 KiB), bound to the digest. */
export function signingStatement(doc: Record<string, unknown>): string {
  const term = doc.termination as { tenant_id: string; termination_id: string };
  return canonicalJson({
    type: SIGNATURE_TYPE,
    tenant_id: term.tenant_id,
    termination_id: term.termination_id,
    sha256: sha256B64(canonicalJson(doc)),
  });
}

/** Signs the attestation with the tenant's own key and returns the files to write (JSON envelope). */
export async function signAttestation(
  doc: Record<string, unknown>,
  signer: Signer,
  tenantId: string,
): Promise<{ name: string; body: Uint8Array; contentType: string }[]> {
  const statement = signingStatement(doc);
  const sig = await signer.sign(tenantId, new TextEncoder().encode(statement));
  const envelope: SignedAttestation = {
    attestation: doc,
    signature: {
      type: SIGNATURE_TYPE,
      statement,
      algorithm: sig.alg,
      key_id: sig.kid,
      format: 'raw',
      value: Buffer.from(sig.signature).toString('base64'),
    },
  };
  return [
    {
      name: 'json',
      body: new TextEncoder().encode(JSON.stringify(envelope, null, 2)),
      contentType: 'application/json',
    },
  ];
}

/**
 * Verifies a signed attestation with the tenant's public key (PEM, DER SPKI or KeyObject).
 * Checks the digest in the statement against the attestation and the ECDSA P-256 signature.
 * The caller must still check that the key is the tenant's (e.g. from its JWKS).
 */
export function verifyAttestation(
  envelope: SignedAttestation,
  publicKey: string | Buffer | KeyObject,
): { valid: boolean; reason?: string } {
  const key =
    typeof publicKey === 'string' || Buffer.isBuffer(publicKey)
      ? createPublicKey(typeof publicKey === 'string' ? publicKey : { key: publicKey, format: 'der', type: 'spki' })
      : publicKey;
  if (signingStatement(envelope.attestation) !== envelope.signature.statement)
    return { valid: false, reason: 'digest mismatch' };
  const ok = cryptoVerify(
    'sha256',
    Buffer.from(envelope.signature.statement, 'utf8'),
    { key, dsaEncoding: envelope.signature.format === 'raw' ? 'ieee-p1363' : 'der' },
    Buffer.from(envelope.signature.value, 'base64'),
  );
  return ok ? { valid: true } : { valid: false, reason: 'bad signature' };
}

/**
 * Verifies a signed attestation as the tenant's: the statement names `tenantId`, its digest
 * matches the attestation, and the ES256 signature verifies with the key `key_id` among `keys`,
 * which must be that tenant's public keys (TenantKeySet.publicKeys or its JWKS). A signature by
 * any other tenant's key is `unknown key` or `bad signature`.
 */
export function verifyTenantAttestation(
  envelope: SignedAttestation,
  tenantId: string,
  keys: readonly PublicJwk[],
): { valid: boolean; reason?: string } {
  const term = (envelope.attestation as { termination?: { tenant_id?: unknown } }).termination;
  if (term?.tenant_id !== tenantId) return { valid: false, reason: 'attestation of another tenant' };
  if (signingStatement(envelope.attestation) !== envelope.signature.statement)
    return { valid: false, reason: 'digest mismatch' };
  if (envelope.signature.format !== 'raw' || envelope.signature.algorithm !== 'ES256')
    return { valid: false, reason: 'unsupported signature format' };
  if (!keys.some((k) => k.kid === envelope.signature.key_id)) return { valid: false, reason: 'unknown key' };
  const ok = verifyTenantSignature(
    keys,
    envelope.signature.key_id,
    Buffer.from(envelope.signature.statement, 'utf8'),
    Buffer.from(envelope.signature.value, 'base64'),
  );
  return ok ? { valid: true } : { valid: false, reason: 'bad signature' };
}
