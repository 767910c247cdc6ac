/**
 * The AuditSink other capabilities call before (and after) governed actions:
 *
 * @example
 * import { createAuditSink } from '../audit/index.js';
 * const audit = createAuditSink(); // reads ARX_AUDIT_TABLE and ARX_DATA_KEY_ARN on first record()
 * await audit.record({ tenant_id, event_type: 'operation.executed', action: 'okta:users:deactivate', … });
 *
 * `record` resolves only after the event, its evidence tags and the encrypted payload are in
 * DynamoDB; it throws (AuditWriteError) otherwise, and the caller must not execute the action.
 */
import type { DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import type { KMSClient } from '@aws-sdk/client-kms';
import { systemClock, type Clock } from '../shared/clock.js';
import { perEnvironment, readSettings, type SettingName } from '../shared/settings.js';
import type { AuditRecordInput, AuditSink } from '../shared/ports.js';
import { DynamoEventStore } from './adapters/dynamo-event-store.js';
import { KmsEnvelopeCipher } from './adapters/kms.js';
import { AuditRecorder, AuditWriteError } from './core/record.js';

export { AuditWriteError };

export interface AuditSinkOptions {
  readonly table?: string;
  readonly dataKeyArn?: string;
  readonly clock?: Clock;
  readonly ddb?: DynamoDBDocumentClient;
  readonly kms?: KMSClient;
}

/** What the sink reads (unless `table` / `dataKeyArn` are given). */
export const AUDIT_SINK_SETTINGS = ['ARX_AUDIT_TABLE', 'ARX_DATA_KEY_ARN'] as const satisfies readonly SettingName[];

export function createAuditSink(opts: AuditSinkOptions = {}): AuditSink & { recorder(): AuditRecorder } {
  const recorder = perEnvironment(() => {
    const table = opts.table ?? readSettings(['ARX_AUDIT_TABLE']).ARX_AUDIT_TABLE;
    const key = opts.dataKeyArn ?? readSettings(['ARX_DATA_KEY_ARN']).ARX_DATA_KEY_ARN;
    return new AuditRecorder({
      store: new DynamoEventStore(table, opts.ddb),
      cipher: new KmsEnvelopeCipher(key, opts.kms),
      clock: opts.clock ?? systemClock,
    });
  });
  return {
    record: (input: AuditRecordInput) => {
      let r: AuditRecorder;
      try {
        r = recorder();
      } catch (e) {
        return Promise.reject(new AuditWriteError('audit sink is not configured', { cause: e }));
      }
      return r.record(input);
    },
    recorder,
  };
}
