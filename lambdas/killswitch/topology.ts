import type { CapabilityTopology } from '../shared/topology-types.js';

/** Capability topology for killswitch: filled in by its issue. */
const topology: CapabilityTopology = { functions: [], routes: [] };
export default topology;
