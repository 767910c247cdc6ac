/**
 * LangChain.js tools governed by ARX (peer dependency: `@langchain/core`).
 *
 * @example
 * import { tool } from '@langchain/core/tools';
 * import { z } from 'zod';
 * const deactivate = tool(async () => 'done', { name: 'okta_deactivate', description: 'Deactivate an Okta user', schema: z.object({ user_id: z.string() }) });
 * const governedDeactivate = governLangChainTool(deactivate, arx, { connector: 'okta', operation: 'users:deactivate' });
 * await governedDeactivate.invoke({ user_id: '00u3' }); // held for a human, then executed by ARX
 */
import { DynamicStructuredTool, ToolInputParsingException, type StructuredToolInterface } from '@langchain/core/tools';
import { ActionDenied, ActionFailed, ApprovalExpired, type ActionResult, type ArxClient } from './index.js';

export interface GovernLangChainToolOptions {
  readonly connector: string;
  readonly operation: string;
  /** Maps the tool input to connector params. @default the input itself */
  readonly params?: (input: Record<string, unknown>) => Record<string, unknown>;
  /** The agent's reasoning, shown to approvers. */
  readonly reason?: (input: Record<string, unknown>) => string | undefined;
  /**
   * Shapes ARX's result for the model; receives the tool input and the executed action.
   * @default the connector's result
   */
  readonly output?: (input: Record<string, unknown>, action: ActionResult) => unknown;
}

/**
 * Returns a LangChain tool with the same name, description and input schema as `base` whose every
 * call is decided (and executed) by ARX first. Denials, expiries and failures are returned to the
 * model as the tool's error text, so the agent can reason about them; anything else throws.
 */
export function governLangChainTool(
  base: StructuredToolInterface,
  client: ArxClient,
  opts: GovernLangChainToolOptions,
): DynamicStructuredTool {
  return new DynamicStructuredTool({
    name: base.name,
    description: base.description,
    schema: base.schema as never,
    func: async (input: Record<string, unknown>) => {
      const reason = opts.reason?.(input);
      let action: ActionResult;
      try {
        action = await client.execute({
          connector: opts.connector,
          operation: opts.operation,
          params: opts.params ? opts.params(input) : input,
          ...(reason ? { reason } : {}),
        });
      } catch (e) {
        if (e instanceof ActionDenied || e instanceof ApprovalExpired || e instanceof ActionFailed)
          return `ARX: ${e.message}`;
        throw e;
      }
      const out = opts.output ? opts.output(input, action) : action.result;
      return typeof out === 'string' ? out : JSON.stringify(out);
    },
  });
}

export { ToolInputParsingException };
