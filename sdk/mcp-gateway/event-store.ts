import type { EventStore } from '@modelcontextprotocol/sdk/server/streamableHttp.js';
import type { JSONRPCMessage } from '@modelcontextprotocol/sdk/types.js';

/**
 * The SSE events of one Streamable HTTP session, kept so a client whose stream broke mid-call (a
 * dropped connection, a proxy's idle timeout during a held call) reconnects with `Last-Event-ID`
 * and gets what it missed, the call's result included (resumability, SEP-1699). With a store the
 * SDK also opens every POST stream with a priming event carrying an id and the `retry` interval.
 *
 * Bounded: the newest `maxStreams` streams of the session, the newest `maxEventsPerStream` events of
 * each; the store lives and dies with its session (one per session: a client can replay only its own).
 */
export class SessionEventStore implements EventStore {
  private readonly streams = new Map<string, { id: string; message: JSONRPCMessage }[]>();
  private seq = 0;

  constructor(
    private readonly maxStreams = 64,
    private readonly maxEventsPerStream = 256,
  ) {}

  async storeEvent(streamId: string, message: JSONRPCMessage): Promise<string> {
    // Stream ids are UUIDs (no "_"); the sequence keeps ids ordered within the session.
    const id = `${streamId}_${(++this.seq).toString(36).padStart(8, '0')}`;
    let events = this.streams.get(streamId);
    if (!events) {
      events = [];
      this.streams.set(streamId, events);
      if (this.streams.size > this.maxStreams) this.streams.delete(this.streams.keys().next().value!);
    }
    events.push({ id, message });
    if (events.length > this.maxEventsPerStream) events.shift();
    return id;
  }

  async getStreamIdForEventId(eventId: string): Promise<string | undefined> {
    const streamId = eventId.slice(0, eventId.lastIndexOf('_'));
    return this.streams.has(streamId) ? streamId : undefined;
  }

  async replayEventsAfter(
    lastEventId: string,
    { send }: { send: (eventId: string, message: JSONRPCMessage) => Promise<void> },
  ): Promise<string> {
    const streamId = await this.getStreamIdForEventId(lastEventId);
    const events = streamId === undefined ? undefined : this.streams.get(streamId);
    if (!events) throw new Error('unknown Last-Event-ID');
    // An id older than the retained window: replay all that is left (the result is the newest event).
    const after = events.slice(events.findIndex((e) => e.id === lastEventId) + 1);
    // The priming event's message is empty: nothing to replay for it.
    for (const e of after) if ('jsonrpc' in e.message) await send(e.id, e.message);
    return streamId!;
  }
}
