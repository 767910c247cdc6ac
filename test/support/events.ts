import type {
  ArxEventDetail,
  DetailType,
  EventPublisher,
  OutboxEntry,
  StagedEventSink,
} from '../../lambdas/shared/events.js';

/** In-memory publisher (and event sink, publishing on flush) for unit tests of cores. */
export class RecordingPublisher implements EventPublisher, StagedEventSink {
  readonly events: { detailType: DetailType; detail: ArxEventDetail }[] = [];
  async publish(detailType: DetailType, detail: ArxEventDetail): Promise<void> {
    this.events.push({ detailType, detail });
  }
  async flush(entries: readonly OutboxEntry[]): Promise<number> {
    for (const e of entries) await this.publish(e.detailType, e.detail);
    return entries.length;
  }
  async stage(): Promise<void> {}
  async discard(): Promise<void> {}
}
