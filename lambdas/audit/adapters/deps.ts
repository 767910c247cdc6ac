import { systemClock } from '../../shared/clock.js';
import { optionalSetting, perEnvironment, readSettings, type SettingName } from '../../shared/settings.js';
import { Outbox } from '../../shared/outbox.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { newId } from '../../shared/ids.js';
import type { TenantSigner } from '../../shared/ports.js';
import { AuditKeys } from '../core/audit-keys.js';
import type { BlockSigner } from '../core/ports.js';
import { DynamoAuditKeyStore, KmsAuditKeyManager } from './audit-keys.js';
import type { SealerDeps } from '../core/sealer.js';
import { DynamoChainStore } from './dynamo-chain-store.js';
import { DynamoDestinationStore } from './dynamo-destination-store.js';
import { DynamoEventStore } from './dynamo-event-store.js';
import { DynamoPackageStore } from './dynamo-package-store.js';
import { S3BlockStore } from './s3-block-store.js';
import { S3DestinationWriter } from './s3-destination-writer.js';
import { HttpTimestamper } from './tsa-client.js';

/**
 * Signs block heads through a TenantSigner (kid = RFC 7638 thumbprint, base64url R‖S). The
 * sealer passes AuditKeys, whose keys stay in GET /tenants/{t}/.well-known/audit-keys.json for good (F8).
 */
export class TenantKeysBlockSigner implements BlockSigner {
  constructor(private readonly keys: Pick<TenantSigner, 'activeKid' | 'sign'>) {}
  activeKid(tenantId: string): Promise<string> {
    return this.keys.activeKid(tenantId);
  }
  async sign(tenantId: string, message: Uint8Array): Promise<{ kid: string; signature: string }> {
    const s = await this.keys.sign(tenantId, message);
    return { kid: s.kid, signature: Buffer.from(s.signature).toString('base64url') };
  }
}

/** What {@link auditReadDeps} reads. */
export const AUDIT_READ_SETTINGS = ['ARX_AUDIT_TABLE', 'ARX_AUDIT_BUCKET'] as const satisfies readonly SettingName[];
/** What {@link sealerDeps} reads. */
export const SEALER_SETTINGS = [
  'ARX_AUDIT_TABLE',
  'ARX_CONTROL_TABLE',
  'ARX_AUDIT_BUCKET',
  'ARX_EVENT_BUS',
  'ARX_TSA_URL',
] as const satisfies readonly SettingName[];

/** Read-side wiring (API functions). */
export const auditReadDeps = perEnvironment(() => {
  const c = readSettings(['ARX_AUDIT_TABLE', 'ARX_AUDIT_BUCKET']);
  return {
    events: new DynamoEventStore(c.ARX_AUDIT_TABLE),
    chain: new DynamoChainStore(c.ARX_AUDIT_TABLE),
    destinations: new DynamoDestinationStore(c.ARX_AUDIT_TABLE),
    packages: new DynamoPackageStore(c.ARX_AUDIT_TABLE),
    blocks: new S3BlockStore(c.ARX_AUDIT_BUCKET),
    auditBucket: c.ARX_AUDIT_BUCKET,
    clock: systemClock,
    auditKeys: new AuditKeys(new DynamoAuditKeyStore(c.ARX_AUDIT_TABLE), new KmsAuditKeyManager(), systemClock),
  };
});

/** Sealer wiring; ARX_TSA_URL is optional (unset → blocks stay un-anchored, chain status shows it). */
export const sealerDeps = perEnvironment((): SealerDeps => {
  const c = readSettings(['ARX_AUDIT_TABLE', 'ARX_AUDIT_BUCKET', 'ARX_EVENT_BUS', 'ARX_CONTROL_TABLE']);
  const tsa = optionalSetting('ARX_TSA_URL');
  const publisher = new EventBridgePublisher(c.ARX_EVENT_BUS);
  return {
    events: new DynamoEventStore(c.ARX_AUDIT_TABLE),
    chain: new DynamoChainStore(c.ARX_AUDIT_TABLE),
    blocks: new S3BlockStore(c.ARX_AUDIT_BUCKET),
    signer: new TenantKeysBlockSigner(
      new AuditKeys(new DynamoAuditKeyStore(c.ARX_AUDIT_TABLE), new KmsAuditKeyManager(), systemClock),
    ),
    timestamper: tsa ? new HttpTimestamper(tsa) : null,
    clock: systemClock,
    destinations: { store: new DynamoDestinationStore(c.ARX_AUDIT_TABLE), writer: new S3DestinationWriter() },
    publisher,
    outbox: { table: c.ARX_CONTROL_TABLE, sink: new Outbox(c.ARX_CONTROL_TABLE, publisher) },
    owner: newId('sealer'),
  };
});
