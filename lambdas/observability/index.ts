/**
 * What other capabilities import from observability.
 *
 * @example
 * import { createSpendGate } from '../observability/index.js';
 * const spend = createSpendGate(setting('ARX_TRACES_TABLE'), setting('ARX_INVENTORY_TABLE'));
 * await spend.reserve(tenantId, agentId, 'okta:users:read', actionId); // before the connector runs
 */
import { systemClock } from '../shared/clock.js';
import type { SpendGate } from '../shared/ports.js';
import { DynamoBudgetLedger } from './adapters/dynamo-budget-ledger.js';
import { DynamoSpanStore } from './adapters/dynamo-span-store.js';
import { InventoryCohorts } from './adapters/lookups.js';
import { BudgetGate } from './core/budgets.js';
import { priceTables } from './core/usage.js';

/** The budget gate over the traces table (budgets, counters, prices) and the inventory (cohorts). */
export function createSpendGate(
  tracesTable: string,
  inventoryTable: string,
): SpendGate & {
  record(t: string, a: string, usd: number): Promise<void>;
  daySpend(t: string, a: string): Promise<number>;
} {
  const spans = new DynamoSpanStore(tracesTable);
  const cohorts = new InventoryCohorts(inventoryTable);
  return new BudgetGate({
    ledger: new DynamoBudgetLedger(tracesTable),
    prices: async (t) => priceTables(await spans.cachedPrices(t)),
    cohortOf: (t, a) => cohorts.cohortOf(t, a),
    now: () => systemClock.now(),
  });
}

// Cost per agent per day over a window (the dashboard's summary).
export { createCostReader, type AgentDayCost } from './adapters/cost-reader.js';
