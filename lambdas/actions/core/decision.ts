import type { Decision, SpendContext } from '../../shared/ports.js';
import type { AgentCaller, ActionServiceDeps, SubmitInput } from './context.js';
import type { DecisionSummary } from './model.js';

export function summarise(d: Decision): DecisionSummary {
  return {
    effect: d.effect,
    approval: d.approval,
    risk: d.risk,
    policy: d.policy ?? null,
    determining_policies: [...d.determining_policies],
    errors: [...d.errors],
    bundle_version: d.bundle_version,
    evaluation_ms: d.evaluation_ms,
  };
}

export function forbid(reason: string): Decision {
  return {
    effect: 'forbid',
    approval: 'none',
    risk: 'critical',
    determining_policies: [],
    errors: [reason],
    evaluation_ms: 0,
    bundle_version: null,
  };
}

/** Forbids that say "could not evaluate now", not "policy says no": a pending approval stays pending on these. */
export const TRANSIENT_FORBIDS: readonly string[] = [
  'policy evaluation failed',
  'revocation list unavailable',
  'revocation status unavailable',
];

/**
 * The policy decision for a submission (or the live re-decision of an approval), failing closed:
 * a revoked principal, an unreadable revocation list, a PDP error or a malformed answer is a forbid.
 */
export async function decideSafely(
  deps: Pick<ActionServiceDeps, 'revocation' | 'pdp' | 'spend' | 'drift' | 'log'>,
  caller: AgentCaller,
  action: string,
  input: SubmitInput,
  /** The spend context when the caller already read it (null: no budget applies). */
  known?: SpendContext | null,
): Promise<Decision> {
  const rev = await deps.revocation.status(caller.tenantId, caller.agentId).catch(() => 'unknown' as const);
  if (rev === 'revoked') return forbid('principal is revoked');
  if (rev === 'unknown') return forbid('revocation list unavailable');
  try {
    const d = await deps.pdp.decide({
      tenantId: caller.tenantId,
      principal: { type: 'Agent', id: caller.agentId },
      action,
      resource: { type: 'Connector', id: input.connector },
      context: {
        connector: input.connector,
        operation: input.operation,
        ...(known !== undefined ? known : await deps.spend?.context(caller.tenantId, caller.agentId).catch(() => null)),
        // the reader never throws: an unreadable drift store answers score 1 (fail closed)
        ...(deps.drift ? await deps.drift.context(caller.tenantId, caller.agentId) : {}),
      },
    });
    if (d.effect !== 'permit' && d.effect !== 'forbid') return forbid('PDP returned no effect');
    if (d.effect === 'permit' && !['none', 'auto', 'hitl'].includes(d.approval))
      return forbid('PDP returned an unknown approval mode');
    return d;
  } catch (e) {
    deps.log.warn('PDP error: failing closed', { error_name: (e as Error).name });
    return forbid('policy evaluation failed');
  }
}
