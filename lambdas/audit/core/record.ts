import { randomBytes } from 'node:crypto';
import type { Clock } from '../../shared/clock.js';
import { newId } from '../../shared/ids.js';
import type { AuditRecordInput, AuditSink } from '../../shared/ports.js';
import { buildAuditEvent, PAYLOAD_SALT_BYTES, sealedPayload, type AuditEvent } from './events.js';
import type { EventStore, PayloadCipher } from './ports.js';

/** An audit record could not be made durable; the governed action must not run. */
export class AuditWriteError extends Error {
  override readonly name = 'AuditWriteError';
}

export interface RecorderDeps {
  readonly store: Pick<EventStore, 'putEvent'>;
  readonly cipher: PayloadCipher;
  readonly clock: Clock;
}

/**
 * The AuditSink core: redact, hash, tag, encrypt the full payload under the tenant key, then
 * write durably. Throws AuditWriteError (with the cause) on any failure so callers fail closed.
 */
export class AuditRecorder implements AuditSink {
  constructor(private readonly deps: RecorderDeps) {}

  async record(input: AuditRecordInput): Promise<{ event_id: string }> {
    const { event } = await this.recordEvent(input);
    return { event_id: event.event_id };
  }

  async recordEvent(input: AuditRecordInput, dedupeKey?: string): Promise<{ event: AuditEvent; duplicate: boolean }> {
    if (!input.tenant_id || !input.event_type || !input.action || !input.occurred_at) {
      throw new AuditWriteError('audit record needs tenant_id, event_type, action and occurred_at');
    }
    const now = this.deps.clock.now();
    const eventId = newId('aev', now);
    try {
      const salt = randomBytes(PAYLOAD_SALT_BYTES);
      const { event, redactedPayload } = buildAuditEvent(input, eventId, now, salt);
      // control: eu_ai_act:Art.12, iso_42001_2023:A.6.2.8, owasp_agentic_top10_2025:T8, eu_ai_act:Art.26
      const enc = await this.deps.cipher.encrypt(
        input.tenant_id,
        eventId,
        Buffer.from(sealedPayload(input.payload, salt), 'utf8'),
      );
      const written = await this.deps.store.putEvent(event, redactedPayload, enc, dedupeKey);
      return { event, duplicate: !written };
    } catch (e) {
      throw new AuditWriteError(`audit write failed for ${input.event_type}`, { cause: e });
    }
  }
}
