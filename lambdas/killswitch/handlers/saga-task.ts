import type { Context } from 'aws-lambda';
import { z } from 'zod';
import { validate } from '../../shared/http.js';
import { logger, observed } from '../../shared/observability.js';
import { STEP_NAMES, type SagaInput } from '../core/model.js';

/** What every saga task receives (the state machine passes only ids; tasks load the record). */
export const SagaTaskInput = z.object({
  termination_id: z.string().regex(/^term_[0-9A-HJKMNP-TV-Z]{26}$/),
  tenant_id: z.string().min(1).max(128),
  step: z.enum(STEP_NAMES).optional(),
  error: z.object({ Error: z.string().optional(), Cause: z.unknown().optional() }).optional(),
});
export type SagaTaskInput = z.infer<typeof SagaTaskInput>;

/**
 * Builds a saga task handler: validates the input, runs `fn`, returns `{termination_id,
 * tenant_id, …result}`. Errors propagate (with their `name`) so the state machine's Retry/Catch
 * match on them.
 */
export function sagaTask(name: string, fn: (input: SagaTaskInput) => Promise<Record<string, unknown> | undefined>) {
  return observed(async (event: unknown, _ctx: Context): Promise<SagaInput & Record<string, unknown>> => {
    const input = validate(SagaTaskInput, event, `${name} input`);
    logger.appendKeys({ termination_id: input.termination_id, tenant_id: input.tenant_id, saga_task: name });
    const out = (await fn(input)) ?? {};
    return { termination_id: input.termination_id, tenant_id: input.tenant_id, ...out };
  });
}
