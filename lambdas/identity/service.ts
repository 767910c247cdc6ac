/**
 * The identity capability wired from the environment, for its own handlers and for other
 * capabilities that call it in process: the kill switch (revoke/terminate, credential cascade),
 * `signWithTenantKey` + `jwks`, the authorizer (`verifier`). The tenant signer alone (policy
 * bundles, exit attestations, audit's key set) is `./signer.ts`; `keys` here is built by it.
 *
 * Environment: ARX_INVENTORY_TABLE, ARX_CONTROL_TABLE, ARX_REVOCATION_TABLE, ARX_EVENT_BUS
 * (lifecycle and owners), ARX_SVID_ISSUER_BASE (mint/verify), optional ARX_SIGNING_KEY_ARN (the
 * initial tenant key), ARX_SVID_TTL_SECONDS, ARX_REFRESH_TOKEN_TTL_SECONDS, ARX_REFRESH_GRACE_SECONDS,
 * ARX_REFRESH_SPENT_RETENTION_SECONDS, ARX_ORPHAN_GRACE_SECONDS.
 * Each part reads only the variables it needs, on first use.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { documentClient } from '../shared/aws.js';
import { systemClock, type Clock } from '../shared/clock.js';
import { currentEnv, perEnvironment, readSettings, setting, type SettingName } from '../shared/settings.js';
import { EventBridgePublisher, type EventPublisher } from '../shared/events.js';
import { Outbox } from '../shared/outbox.js';
import { DynamoRevocationList } from '../shared/revocation.js';
import { DynamoInventoryStore } from './adapters/dynamo-inventory-store.js';
import type { InventoryStore } from '../shared/ports.js';
import {
  agentStatePut,
  DynamoBootstrapStore,
  DynamoOrphanMarkers,
  DynamoRefreshTokenStore,
} from './adapters/dynamo-identity-store.js';
import { createTenantSigner } from './signer.js';
import { createCredentialBroker, credentialBrokerFromEnv } from './broker.js';
import type { CredentialBroker, OAuthPort, StsPort } from './core/broker.js';
import type { Caller, TraceIds } from './core/agents.js';
import type { Jwks, KeyManager, TenantKeys, TenantSignature } from './core/keys.js';
import { revokeAgent, rotateAgent, type LifecycleDeps, type RevokeReason } from './core/lifecycle.js';
import { registerAgent } from './core/agents.js';
import type { RegisterAgentBody } from './schemas.js';
import type { OwnerDeps } from './core/owners.js';
import { SvidIssuer } from './core/svid.js';
import type { TokenExchangeDeps } from './core/token-exchange.js';
import { createSvidVerifier } from './verifier.js';
import type { SvidVerifier } from './core/verify.js';

export interface IdentityServiceOptions {
  readonly env?: Readonly<Record<string, string | undefined>>;
  readonly clock?: Clock;
  readonly ddb?: DynamoDBDocumentClient;
  readonly kms?: KMSClient;
  readonly keyManager?: KeyManager;
  readonly publisher?: EventPublisher;
  readonly sts?: StsPort;
  readonly oauth?: OAuthPort;
}

function once<T>(f: () => T): () => T {
  let v: T | undefined;
  let done = false;
  return () => {
    if (!done) {
      v = f();
      done = true;
    }
    return v as T;
  };
}

/**
 * @example
 * const identity = createIdentityService();
 * await identity.revokeAgent({ tenantId, subject: 'system:kill-switch' }, agentId, 'terminated', trace);
 * const { kid, signature } = await identity.signWithTenantKey(tenantId, bytes);
 */
export function createIdentityService(opts: IdentityServiceOptions = {}) {
  const env = opts.env ?? currentEnv();
  const clock = opts.clock ?? systemClock;
  const ddb = opts.ddb ?? documentClient();
  const control = once(() => readSettings(['ARX_CONTROL_TABLE'], env).ARX_CONTROL_TABLE);
  const revocationTable = once(() => readSettings(['ARX_REVOCATION_TABLE'], env).ARX_REVOCATION_TABLE);
  const issuerBase = once(() => readSettings(['ARX_SVID_ISSUER_BASE'], env).ARX_SVID_ISSUER_BASE);
  const ttlS = Math.min(setting('ARX_SVID_TTL_SECONDS', env), 3600);

  const keys = once(() =>
    createTenantSigner({
      env,
      clock,
      ddb,
      ...(opts.kms ? { kms: opts.kms } : {}),
      ...(opts.keyManager ? { keyManager: opts.keyManager } : {}),
    }),
  );
  const verifier = once((): SvidVerifier => {
    const v = createSvidVerifier({
      controlTable: control(),
      revocationTable: revocationTable(),
      issuerBase: issuerBase(),
      clock,
      client: ddb,
    });
    keys().onRotate((t) => v.invalidate(t));
    return v;
  });
  const issuer = once(() => new SvidIssuer(keys(), clock, { issuerBase: issuerBase() }));
  const broker = once(
    (): CredentialBroker =>
      !opts.sts && !opts.oauth && !opts.ddb && !opts.clock && !opts.env
        ? credentialBrokerFromEnv(env) // one cache per process, shared with in-process callers
        : createCredentialBroker({
            controlTable: control(),
            revocationTable: revocationTable(),
            clock,
            client: ddb,
            ...(opts.sts ? { sts: opts.sts } : {}),
            ...(opts.oauth ? { oauth: opts.oauth } : {}),
          }),
  );
  const outbox = once(
    () =>
      new Outbox(
        control(),
        opts.publisher ?? new EventBridgePublisher(readSettings(['ARX_EVENT_BUS'], env).ARX_EVENT_BUS),
        ddb,
      ),
  );
  const inventory = once(
    (): InventoryStore =>
      new DynamoInventoryStore(
        readSettings(['ARX_INVENTORY_TABLE'], env).ARX_INVENTORY_TABLE,
        control(),
        outbox(),
        ddb,
      ),
  );
  const lifecycle = once(
    (): LifecycleDeps => ({
      inventory: inventory(),
      clock,
      controlTable: control(),
      drl: new DynamoRevocationList(revocationTable(), ddb),
      agentState: (t, a, state, at) => agentStatePut(control(), t, a, state, at),
      credentials: broker(),
    }),
  );
  const owners = once((): OwnerDeps => ({ ...lifecycle(), orphans: new DynamoOrphanMarkers(control(), ddb) }));
  const tokenDeps = once(
    (): TokenExchangeDeps => ({
      bootstrap: new DynamoBootstrapStore(control(), ddb),
      refresh: new DynamoRefreshTokenStore(control(), ddb, {
        spentRetentionS: setting('ARX_REFRESH_SPENT_RETENTION_SECONDS', env),
      }),
      refreshTtlS: setting('ARX_REFRESH_TOKEN_TTL_SECONDS', env),
      refreshGraceS: setting('ARX_REFRESH_GRACE_SECONDS', env),
      revocations: new DynamoRevocationList(revocationTable(), ddb),
      // The audit trail: token.issued / token.refresh_reuse through the control table's outbox.
      events: outbox(),
      agents: inventory(),
      verifier: verifier(),
      issuer: issuer(),
      clock,
      ttlS,
    }),
  );

  return {
    clock,
    get keys(): TenantKeys {
      return keys();
    },
    get verifier(): SvidVerifier {
      return verifier();
    },
    get issuer(): SvidIssuer {
      return issuer();
    },
    get broker(): CredentialBroker {
      return broker();
    },
    get inventory(): InventoryStore {
      return inventory();
    },
    get lifecycleDeps(): LifecycleDeps {
      return lifecycle();
    },
    get ownerDeps(): OwnerDeps {
      return owners();
    },
    get tokenDeps(): TokenExchangeDeps {
      return tokenDeps();
    },
    orphanGraceS: setting('ARX_ORPHAN_GRACE_SECONDS', env),
    /** ECDSA P-256 signature (64-byte R‖S) with the tenant's active KMS key; verify against `jwks(tenant)`. */
    signWithTenantKey: (tenantId: string, bytes: Uint8Array): Promise<TenantSignature> => keys().sign(tenantId, bytes),
    /** The tenant's published verification keys. */
    jwks: (tenantId: string): Promise<Jwks> => keys().jwks(tenantId),
    /** Revoke / suspend / terminate: revocation list, inventory status, credential cascade. */
    revokeAgent: (caller: Caller, agentId: string, reason: RevokeReason, trace: TraceIds, note?: string) =>
      revokeAgent(lifecycle(), caller, agentId, reason, trace, note),
    rotateAgent: (caller: Caller, agentId: string, trace: TraceIds) => rotateAgent(lifecycle(), caller, agentId, trace),
    /** Registers an agent (the answer of POST /v1/identity/agents, bootstrap token included); discovery's adopt calls this. */
    registerAgent: (caller: Caller, input: RegisterAgentBody, trace: TraceIds) =>
      registerAgent({ inventory: inventory(), clock, controlTable: control() }, caller, input, trace),
    /** Evicts cached credentials of the agent in this process and deletes its CredentialBindings. */
    revokeAgentCredentials: (tenantId: string, agentId: string) => broker().revokeAgentCredentials(tenantId, agentId),
  };
}
export type IdentityService = ReturnType<typeof createIdentityService>;

/** The identity service of the function's environment (one key cache, one credential cache). */
export const identityService: () => IdentityService = perEnvironment(() => createIdentityService());

/** What the identity service reads (its parts read theirs on first use). */
export const IDENTITY_SETTINGS = [
  'ARX_INVENTORY_TABLE',
  'ARX_CONTROL_TABLE',
  'ARX_REVOCATION_TABLE',
  'ARX_EVENT_BUS',
  'ARX_SVID_ISSUER_BASE',
  'ARX_SIGNING_KEY_ARN',
  'ARX_SVID_TTL_SECONDS',
  'ARX_REFRESH_TOKEN_TTL_SECONDS',
  'ARX_REFRESH_GRACE_SECONDS',
  'ARX_REFRESH_SPENT_RETENTION_SECONDS',
  'ARX_ORPHAN_GRACE_SECONDS',
] as const satisfies readonly SettingName[];
