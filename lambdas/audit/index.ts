/**
 * What other capabilities and tools import from audit (C4). Everything else under
 * `lambdas/audit/` is private to it (test/unit/boundaries.test.ts holds the line).
 *
 * @example
 * import { createAuditSink } from '../audit/index.js';
 * const audit = createAuditSink(); // reads ARX_AUDIT_TABLE and ARX_DATA_KEY_ARN on first record()
 * await audit.record({ tenant_id, event_type: 'operation.executed', action: 'okta:users:deactivate', … });
 */
import type { ActivityReader } from '../shared/ports.js';
import { AuditActivityReader } from './adapters/activity-reader.js';
import { DynamoChainStore } from './adapters/dynamo-chain-store.js';
import { DynamoEventStore } from './adapters/dynamo-event-store.js';

// The AuditSink port of shared/ports.ts (fails closed: throws when the event is not durable).
export { AUDIT_SINK_SETTINGS, createAuditSink, AuditWriteError, type AuditSinkOptions } from './sink.js';

/** The ActivityReader port of shared/ports.ts over the audit table (the kill switch's exit attestation). */
export function createActivityReader(auditTable: string): ActivityReader {
  return new AuditActivityReader(new DynamoEventStore(auditTable), new DynamoChainStore(auditTable));
}

// Read access to stored events (observability's trace view), payload encryption and redaction
// (observability stores span content the way audit stores payloads).
export { DynamoEventStore } from './adapters/dynamo-event-store.js';
export { KmsEnvelopeCipher } from './adapters/kms.js';
export { redact } from './core/events.js';
export type { EncryptedPayload, PayloadCipher } from './core/ports.js';

// Offline chain verification (`arx verify`).
export { statusLine, verifyChain, type BlockSource, type Jwk } from './core/verify-chain.js';

// The events of a window, by type (the dashboard's summary).
export { createAuditWindowReader } from './adapters/window-reader.js';
