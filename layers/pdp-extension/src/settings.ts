import type { SettingName } from '../../../lambdas/shared/settings.js';

/**
 * What the extension reads, checked together at INIT (a failure names every variable).
 * ARX_SVID_ISSUER_BASE is where the tenant's keys are published: bundles verify against them, and
 * so do callers' SVIDs unless the function is bound to one agent (ARX_AGENT_ID).
 */
export const EXTENSION_SETTINGS = [
  'ARX_TENANT_ID',
  'ARX_BUNDLE_BUCKET',
  'ARX_REVOCATION_TABLE',
  'ARX_INVENTORY_TABLE',
  'ARX_SVID_ISSUER_BASE',
  'ARX_AGENT_ID',
  'ARX_API_URL',
  'ARX_PDP_PORT',
  'ARX_PDP_MANIFEST_POLL_MS',
  'ARX_PDP_REVOCATION_POLL_MS',
  'ARX_PDP_REVOCATION_WINDOW_MS',
  'ARX_PDP_REVOCATION_RESYNC_MS',
  'ARX_PDP_OFFLINE_REVOCATION',
  'ARX_PDP_OFFLINE_BLOOM_MAX_AGE_S',
  'ARX_PDP_SET_CACHE',
  'ARX_ORPHAN_GRACE_SECONDS',
] as const satisfies readonly SettingName[];
