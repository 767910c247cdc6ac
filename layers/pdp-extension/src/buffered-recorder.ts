import type { Decision, DecisionRequest } from '../../../lambdas/shared/ports.js';
import type { DecisionRecorder } from '../../../lambdas/policy/index.js';

/**
 * Keeps the decision path off the network: decisions are queued and handed to the real recorder
 * in the background (every `flushMs` and at shutdown). Bounded: beyond `max` queued decisions the
 * oldest are dropped and counted.
 */
export class BufferedRecorder implements DecisionRecorder {
  private queue: {
    req: DecisionRequest;
    decision: Decision;
    meta: { pep_topology: string; correlation_id?: string; trace_id?: string };
  }[] = [];
  dropped = 0;
  failed = 0;
  constructor(
    private readonly inner: DecisionRecorder,
    private readonly max = 10_000,
  ) {}
  async record(
    req: DecisionRequest,
    decision: Decision,
    meta: { pep_topology: string; correlation_id?: string; trace_id?: string },
  ): Promise<void> {
    if (this.queue.length >= this.max) {
      this.queue.shift();
      this.dropped++;
    }
    this.queue.push({ req, decision, meta });
  }
  async flush(): Promise<void> {
    const batch = this.queue;
    this.queue = [];
    for (const x of batch) {
      await this.inner.record(x.req, x.decision, x.meta).catch(() => {
        this.failed++;
      });
    }
  }
}
