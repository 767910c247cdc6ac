/**
 * Durable audit for the writes that happen after the fact (issue 19 §5): `operation.executed`,
 * `operation.failed`, `decision.denied`, `decision.expired` (and a forbid decision). The action
 * has already happened, so the write cannot refuse it; instead it is retried with backoff and,
 * while the audit table stays unavailable, parked in the control table until the scheduled
 * drain records it. Every attempt carries the same de-duplication key, so a write that did land
 * before its answer was lost is never recorded twice. A busy audit table delays these events;
 * it never drops them.
 */
import { canonicalJson, sha256Hex } from '../../shared/ids.js';
import type { AuditRecordInput } from '../../shared/ports.js';

export interface PendingAudit {
  readonly key: string;
  readonly input: AuditRecordInput;
  readonly attempts: number;
}

export interface PendingAuditStore {
  put(key: string, input: AuditRecordInput, at: string): Promise<void>;
  list(limit: number): Promise<PendingAudit[]>;
  remove(key: string): Promise<void>;
  /** Counts a failed drain attempt. */
  bump(key: string, at: string): Promise<void>;
}

export interface DurableAuditDeps {
  /** Records once per key (the audit store de-duplicates on it). */
  readonly recordOnce: (input: AuditRecordInput, dedupeKey: string) => Promise<void>;
  readonly pending: PendingAuditStore;
  readonly now: () => Date;
  readonly log: {
    error(m: string, x?: Record<string, unknown>): void;
    warn(m: string, x?: Record<string, unknown>): void;
  };
  readonly sleep?: (ms: number) => Promise<void>;
  /** Inline attempts before the event is parked. @default 3 */
  readonly attempts?: number;
  /** @default 50 */
  readonly baseDelayMs?: number;
}

/** The same event always has the same key (its content, occurrence time included). */
export const auditDedupeKey = (input: AuditRecordInput): string => `durable:${sha256Hex(canonicalJson(input))}`;

export class DurableAudit {
  constructor(private readonly d: DurableAuditDeps) {}

  /** Resolves once the event is recorded or parked for the drain; throws only when both fail. */
  async record(input: AuditRecordInput): Promise<'recorded' | 'parked'> {
    const key = auditDedupeKey(input);
    const attempts = Math.max(1, this.d.attempts ?? 3);
    const sleep = this.d.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
    let last: unknown;
    for (let i = 0; i < attempts; i++) {
      try {
        await this.d.recordOnce(input, key);
        return 'recorded';
      } catch (e) {
        last = e;
        if (i + 1 < attempts) await sleep((this.d.baseDelayMs ?? 50) * 2 ** i * (0.5 + Math.random() / 2));
      }
    }
    this.d.log.warn('audit write deferred: parked for the scheduled drain', {
      event_type: input.event_type,
      error_name: (last as Error)?.name,
    });
    await this.d.pending.put(key, input, this.d.now().toISOString());
    return 'parked';
  }

  /** Records parked events (oldest first); each stays parked until its write succeeds. */
  async drain(limit = 100): Promise<{ recorded: number; left: number }> {
    const items = await this.d.pending.list(limit);
    let recorded = 0;
    for (const p of items) {
      try {
        await this.d.recordOnce(p.input, p.key);
        await this.d.pending.remove(p.key);
        recorded++;
      } catch (e) {
        await this.d.pending.bump(p.key, this.d.now().toISOString()).catch(() => undefined);
        this.d.log.error('parked audit write still failing', {
          event_type: p.input.event_type,
          attempts: p.attempts + 1,
          error_name: (e as Error).name,
        });
      }
    }
    return { recorded, left: items.length - recorded };
  }
}
