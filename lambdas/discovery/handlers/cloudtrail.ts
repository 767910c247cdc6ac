import { createJobHandler } from '../../shared/http.js';
import { logger } from '../../shared/observability.js';
import { discovery, DISCOVERY_SETTINGS } from '../adapters/deps.js';
import { handleCloudTrail } from '../core/service.js';
import { handlerSettings } from '../../shared/settings.js';

/** Checked at INIT (see shared/settings.ts). */
export const settings = handlerSettings(DISCOVERY_SETTINGS);

/**
 * Consumes "AWS API Call via CloudTrail" events of Bedrock / AgentCore from the account's default
 * bus: agent lifecycle calls refresh the sanctioned inventory, model calls by an unknown principal
 * create shadow agents. Delivery is at least once; re-processing only refreshes the same record
 * (an observed-action count may be counted twice, never a second record).
 */
export const handler = createJobHandler(async (event: unknown) => {
  const out = await handleCloudTrail(discovery().deps, event);
  logger.info('cloudtrail event applied', { kind: out.kind, agents: out.ids.length });
});
