import type {
  CapabilityTopology,
  EventSubscriptionSpec,
  FunctionSpec,
  RouteSpec,
  ScheduleSpec,
} from './shared/topology-types.js';
import { routeKey } from './shared/topology-types.js';
import platform from './platform/topology.js';
import discovery from './discovery/topology.js';
import identity from './identity/topology.js';
import policy from './policy/topology.js';
import actions from './actions/topology.js';
import audit from './audit/topology.js';
import observability from './observability/topology.js';
import killswitch from './killswitch/topology.js';
import dashboard from './dashboard/topology.js';
import drift from './drift/topology.js';
import streaming from './streaming/topology.js';

/** Name of the authorizer function the API construct and the local runtime both use. */
export const AUTHORIZER_FN = 'platform-authorizer';

const parts: CapabilityTopology[] = [
  platform,
  discovery,
  identity,
  policy,
  actions,
  audit,
  observability,
  killswitch,
  dashboard,
  drift,
  streaming,
];

/**
 * The one declarative topology: functions, routes (with roles and schemas), event
 * subscriptions and schedules. Read by the CDK constructs and by the local runtime.
 */
export const TOPOLOGY = {
  functions: parts.flatMap((p) => p.functions) as readonly FunctionSpec[],
  routes: parts.flatMap((p) => p.routes) as readonly RouteSpec[],
  events: parts.flatMap((p) => p.events ?? []) as readonly EventSubscriptionSpec[],
  schedules: parts.flatMap((p) => p.schedules ?? []) as readonly ScheduleSpec[],
} as const;

/** Checks names are unique and every reference resolves; throws naming the first problem. */
export function checkTopology(t: typeof TOPOLOGY = TOPOLOGY): void {
  const fnNames = new Set<string>();
  for (const f of t.functions) {
    if (fnNames.has(f.name)) throw new Error(`duplicate function ${f.name}`);
    fnNames.add(f.name);
  }
  if (!fnNames.has(AUTHORIZER_FN)) throw new Error(`missing authorizer function ${AUTHORIZER_FN}`);
  const keys = new Set<string>();
  for (const r of t.routes) {
    const k = routeKey(r);
    if (keys.has(k)) throw new Error(`duplicate route ${k}`);
    keys.add(k);
    if (!fnNames.has(r.fn)) throw new Error(`route ${k} names unknown function ${r.fn}`);
    if (r.auth === 'bearer' && r.roles.length === 0) throw new Error(`route ${k} needs roles`);
  }
  for (const e of [...t.events, ...t.schedules]) {
    if (!fnNames.has(e.fn)) throw new Error(`${e.name} names unknown function ${e.fn}`);
  }
}
checkTopology();

export const routesOf = (fn: string): RouteSpec[] => TOPOLOGY.routes.filter((r) => r.fn === fn);
export const functionSpec = (name: string): FunctionSpec => {
  const f = TOPOLOGY.functions.find((x) => x.name === name);
  if (!f) throw new Error(`unknown function ${name}`);
  return f;
};
