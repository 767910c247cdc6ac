import { perEnvironment, readSettings } from '../../shared/settings.js';

export const INGEST_SETTINGS = [
  'ARX_TRACES_TABLE',
  'ARX_ARTIFACT_BUCKET',
  'ARX_DATA_KEY_ARN',
  'ARX_INVENTORY_TABLE',
  'ARX_CONTROL_TABLE',
  'ARX_EVENT_BUS',
] as const;
export const API_SETTINGS = [
  'ARX_TRACES_TABLE',
  'ARX_CONTROL_TABLE',
  'ARX_AUDIT_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_DATA_KEY_ARN',
  'ARX_ARTIFACT_BUCKET',
] as const;
export const BUS_SETTINGS = ['ARX_TRACES_TABLE', 'ARX_DATA_KEY_ARN', 'ARX_ARTIFACT_BUCKET'] as const;
import { systemClock } from '../../shared/clock.js';
import { EventBridgePublisher } from '../../shared/events.js';
import { Outbox } from '../../shared/outbox.js';
import { DynamoInventoryStore } from '../../identity/index.js';
import { AgentEvidenceFilter } from '../core/agent-evidence.js';
import { KmsEnvelopeCipher } from '../../audit/index.js';
import { DynamoSpanStore } from './dynamo-span-store.js';
import { createSpendGate } from '../index.js';
import { S3ContentStore } from './s3-content-store.js';
import { S3ColdStore } from './s3-cold-store.js';
import { ActionStoreLookup, AuditStoreLookup, InventoryCohorts } from './lookups.js';

/** Composition root of the OTLP receiver. */
export const ingestDeps = perEnvironment(() => {
  const c = readSettings(INGEST_SETTINGS);
  // Discovery evidence (spans naming an unknown gen_ai.agent.id) leaves through the outbox.
  const outbox = new Outbox(c.ARX_CONTROL_TABLE, new EventBridgePublisher(c.ARX_EVENT_BUS));
  const agents = new DynamoInventoryStore(c.ARX_INVENTORY_TABLE, c.ARX_CONTROL_TABLE, outbox);
  return {
    outbox,
    agentEvidence: new AgentEvidenceFilter(
      async (tenantId, id) => (await agents.get(tenantId, id)) !== null,
      () => systemClock.now().getTime(),
    ),
    spans: new DynamoSpanStore(c.ARX_TRACES_TABLE),
    budgets: createSpendGate(c.ARX_TRACES_TABLE, c.ARX_INVENTORY_TABLE),
    content: new S3ContentStore(c.ARX_ARTIFACT_BUCKET, new KmsEnvelopeCipher(c.ARX_DATA_KEY_ARN)),
    cold: new S3ColdStore(c.ARX_ARTIFACT_BUCKET),
    clock: systemClock,
  };
});

/** Composition root of the trace and usage API. */
export const apiDeps = perEnvironment(() => {
  const c = readSettings(API_SETTINGS);
  return {
    cold: new S3ColdStore(c.ARX_ARTIFACT_BUCKET),
    cipher: new KmsEnvelopeCipher(c.ARX_DATA_KEY_ARN),
    spans: new DynamoSpanStore(c.ARX_TRACES_TABLE),
    actions: new ActionStoreLookup(c.ARX_CONTROL_TABLE),
    audit: new AuditStoreLookup(c.ARX_AUDIT_TABLE),
    cohorts: new InventoryCohorts(c.ARX_INVENTORY_TABLE),
    clock: systemClock,
  };
});

/** Composition root of the bus consumer that writes ARX's own spans. */
export const busDeps = perEnvironment(() => {
  const c = readSettings(BUS_SETTINGS);
  return {
    spans: new DynamoSpanStore(c.ARX_TRACES_TABLE),
    cipher: new KmsEnvelopeCipher(c.ARX_DATA_KEY_ARN),
    cold: new S3ColdStore(c.ARX_ARTIFACT_BUCKET),
    clock: systemClock,
  };
});
