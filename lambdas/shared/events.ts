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
        Entries: [{ EventBusName: this.busName, Source: EVENT_SOURCE, DetailType: detailType, Detail: JSON.stringify(detail) }],
      }),
    );
    if ((out.FailedEntryCount ?? 0) > 0) {
      const e = out.Entries?.find((x) => x.ErrorCode);
      throw new PublishError(`event bus rejected ${detailType}: ${e?.ErrorCode ?? 'unknown'}`);
    }
  }
}

/** In-memory publisher for unit tests of cores. */
export class RecordingPublisher implements EventPublisher {
  readonly events: { detailType: DetailType; detail: ArxEventDetail }[] = [];
  async publish(detailType: DetailType, detail: ArxEventDetail): Promise<void> {
    this.events.push({ detailType, detail });
  }
}
