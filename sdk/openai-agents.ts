/**
 * An OpenAI Agents SDK (`@openai/agents`) tool input guardrail backed by ARX (peer dependency).
 *
 * The guardrail runs before the tool: ARX decides the call and, when it may run, executes the
 * connector operation itself (waiting through a human approval). The tool then reads ARX's
 * result with `arxResult(details)` instead of calling the system directly. A denied, expired or
 * failed action rejects the call with a message the model sees, and the tool never runs.
 *
 * @example
 * const guard = arxToolGuardrail(arx, { connector: 'okta', operation: 'users:deactivate' });
 * const deactivate = tool({
 *   name: 'okta_deactivate', description: 'Deactivate an Okta user', parameters: z.object({ user_id: z.string() }),
 *   inputGuardrails: [guard],
 *   execute: async (_input, _ctx, details) => JSON.stringify(arxResult(details)?.approvalMetadata),
 * });
 */
import {
  defineToolInputGuardrail,
  ToolGuardrailFunctionOutputFactory,
  type ToolInputGuardrailDefinition,
} from '@openai/agents';
import { ActionDenied, ActionFailed, ApprovalExpired, type ActionResult, type ArxClient } from './index.js';

export interface ArxToolGuardrailOptions {
  readonly connector: string;
  readonly operation: string;
  /** Maps the tool's parsed arguments to connector params. @default the arguments */
  readonly params?: (args: Record<string, unknown>) => Record<string, unknown>;
  readonly reason?: (args: Record<string, unknown>) => string | undefined;
}

const results = new Map<string, ActionResult>();

/** ARX's executed action for this tool call (set by the guardrail; read once). */
export function arxResult(details: { toolCall?: { callId?: string } } | undefined): ActionResult | undefined {
  const id = details?.toolCall?.callId;
  if (!id) return undefined;
  const r = results.get(id);
  results.delete(id);
  return r;
}

export function arxToolGuardrail(client: ArxClient, opts: ArxToolGuardrailOptions): ToolInputGuardrailDefinition {
  return defineToolInputGuardrail({
    name: `arx:${opts.connector}:${opts.operation}`,
    run: async ({ toolCall }) => {
      let args: Record<string, unknown>;
      try {
        const parsed: unknown = JSON.parse(toolCall.arguments || '{}');
        if (!parsed || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error('not an object');
        args = parsed as Record<string, unknown>;
      } catch {
        return ToolGuardrailFunctionOutputFactory.rejectContent('ARX: the tool arguments are not a JSON object');
      }
      const reason = opts.reason?.(args);
      try {
        const action = await client.execute({
          connector: opts.connector,
          operation: opts.operation,
          params: opts.params ? opts.params(args) : args,
          ...(reason ? { reason } : {}),
        });
        results.set(toolCall.callId, action);
        return ToolGuardrailFunctionOutputFactory.allow({
          action_id: action.actionId,
          approval_metadata: action.approvalMetadata,
          decision: action.decision,
        });
      } catch (e) {
        if (e instanceof ActionDenied || e instanceof ApprovalExpired || e instanceof ActionFailed) {
          return ToolGuardrailFunctionOutputFactory.rejectContent(`ARX: ${e.message}`, { action_id: e.actionId });
        }
        throw e;
      }
    },
  });
}
