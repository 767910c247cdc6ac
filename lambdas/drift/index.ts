/**
 * What other capabilities import from drift (behavioural baselines of agents). Everything else
 * under `lambdas/drift/` is private to it (test/unit/boundaries.test.ts holds the line).
 *
 * @example
 * import { createDriftReader } from '../drift/index.js';
 * const { drift } = await createDriftReader(controlTable).context(tenantId, agentId); // drift.score → context.drift.score
 */
import { systemClock } from '../shared/clock.js';
import { logger } from '../shared/observability.js';
import type { DriftContext, DriftReader } from '../shared/ports.js';
import { DynamoDriftStore } from './adapters/dynamo-drift-store.js';
import { DriftService, UNAVAILABLE_DRIFT } from './core/service.js';

export { ALERT_SCORE } from './core/drift.js';
export { UNAVAILABLE_DRIFT } from './core/service.js';

/**
 * The DriftReader port on the control table: the agent's score for the decision context. When the
 * store cannot be read it answers {@link UNAVAILABLE_DRIFT} (score 1, alert): fail closed.
 */
export function createDriftReader(controlTable: string): DriftReader {
  const service = new DriftService({
    store: new DynamoDriftStore(controlTable),
    events: { flush: async () => 0 },
    clock: systemClock,
  });
  return {
    context: async (tenantId: string, agentId: string): Promise<DriftContext> => {
      try {
        return await service.context(tenantId, agentId);
      } catch (e) {
        logger.warn('drift store unavailable: the decision context says drifting', { error_name: (e as Error).name });
        return UNAVAILABLE_DRIFT;
      }
    },
  };
}
