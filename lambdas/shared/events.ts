import { PutEventsCommand, type EventBridgeClient } from '@aws-sdk/client-eventbridge';
import { eventBridgeClient } from './aws.js';
import { EVENT_SOURCE } from './topology-types.js';

/** The detail-types ARX publishes (ARCHITECTURE.md, Events). */
export const DETAIL_TYPES = [
  'inventory.change',
  'policy.decision',
  'bundle.promoted',
  'decision.required',
  'decision.approved',
  'decision.denied',
  'decision.expired',
  'operation.executed',
  'operation.failed',
  'agent.terminated',
  'agent.terminated.completed',
  'audit.block.sealed',
  'discovery.scan.requested',
  'token.issued',
  'token.refresh_reuse',
  'discovery.evidence',
  'agent.drift',
] as const;
export type DetailType = (typeof DETAIL_TYPES)[number];

/** Every event carries the tenant, a correlation id and W3C trace id, plus the ids it is about. */
export interface ArxEventDetail {
  tenant_id: string;
  correlation_id: string;
  trace_id: string;
  /** Unique per logical event: consumers de-duplicate on it (delivery is at least once). */
  event_id: string;
  [key: string]: unknown;
}

/** Port: publish a domain event. */
export interface EventPublisher {
  publish(detailType: DetailType, detail: ArxEventDetail): Promise<void>;
}

/** An event to commit together with the state change it announces (transactional outbox). */
export interface OutboxEntry {
  readonly detailType: DetailType;
  readonly detail: ArxEventDetail;
}

/**
 * Port: the one way a state change's events leave ARX. The store commits each event with its state
 * change (the outbox item in the same transaction); `flush` then publishes them now, and whatever
 * fails stays for the relay: delivery is at least once, consumers de-duplicate on `event_id`.
 */
export interface EventSink {
  /** Publishes committed entries and removes them from the outbox. Never throws. @returns how many were published */
  flush(entries: readonly OutboxEntry[]): Promise<number>;
}

/** An {@link EventSink} that also commits entries on their own, for a change outside DynamoDB (stage → change → flush, or discard). */
export interface StagedEventSink extends EventSink {
  stage(entries: readonly OutboxEntry[], at: string): Promise<void>;
  discard(entries: readonly OutboxEntry[]): Promise<void>;
}

export class PublishError extends Error {
  override readonly name = 'PublishError';
}

/** EventBridge adapter. Fails loudly when the bus rejects an entry. */
export class EventBridgePublisher implements EventPublisher {
  constructor(
    private readonly busName: string,
    private readonly client: EventBridgeClient = eventBridgeClient(),
  ) {}
  async publish(detailType: DetailType, detail: ArxEventDetail): Promise<void> {
    const out = await this.client.send(
      new PutEventsCommand({
        Entries: [
          { EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: detailType, Detail: JSON.stringify(detail) },
        ],
      }),
    );
    if ((out.FailedEntryCount ?? 0) > 0) {
      const e = out.Entries?.find((x) => x.ErrorCode);
      throw new PublishError(`event bus rejected ${detailType}: ${e?.ErrorCode ?? 'unknown'}`);
    }
  }
}
