/**
 * OpenTelemetry GenAI semantic-convention attribute names ARX reads, pinned in one place.
 *
 * Pinned to the names published by `@opentelemetry/semantic-conventions@1.45.0` (its incubating
 * `experimental_attributes`, generated from semantic-conventions v1.38+ GenAI registry); a unit
 * test compares every constant here with that package so a rename cannot slip in unnoticed.
 * Older names are accepted only through {@link ALIASES}: one table, applied at ingest.
 */
export const SEMCONV_PIN = '@opentelemetry/semantic-conventions@1.45.0 (gen_ai registry)';

export const GEN_AI = {
  providerName: 'gen_ai.provider.name',
  operationName: 'gen_ai.operation.name',
  requestModel: 'gen_ai.request.model',
  responseModel: 'gen_ai.response.model',
  inputTokens: 'gen_ai.usage.input_tokens',
  outputTokens: 'gen_ai.usage.output_tokens',
  cacheReadInputTokens: 'gen_ai.usage.cache_read.input_tokens',
  cacheCreationInputTokens: 'gen_ai.usage.cache_creation.input_tokens',
  reasoningOutputTokens: 'gen_ai.usage.reasoning.output_tokens',
  toolName: 'gen_ai.tool.name',
  toolCallId: 'gen_ai.tool.call.id',
  agentId: 'gen_ai.agent.id',
  agentName: 'gen_ai.agent.name',
  conversationId: 'gen_ai.conversation.id',
  inputMessages: 'gen_ai.input.messages',
  outputMessages: 'gen_ai.output.messages',
  systemInstructions: 'gen_ai.system_instructions',
  toolCallArguments: 'gen_ai.tool.call.arguments',
  toolCallResult: 'gen_ai.tool.call.result',
} as const;

/**
 * Old (or vendor) name → current name. A span carrying both keeps the current one.
 * `cache_write` is the name some SDKs use for what the conventions call `cache_creation`.
 */
export const ALIASES: Readonly<Record<string, string>> = {
  'gen_ai.system': GEN_AI.providerName,
  'gen_ai.usage.prompt_tokens': GEN_AI.inputTokens,
  'gen_ai.usage.completion_tokens': GEN_AI.outputTokens,
  'gen_ai.usage.cache_write.input_tokens': GEN_AI.cacheCreationInputTokens,
  'gen_ai.usage.cache_write_input_tokens': GEN_AI.cacheCreationInputTokens,
  'gen_ai.usage.cache_read_input_tokens': GEN_AI.cacheReadInputTokens,
  'gen_ai.usage.cache_creation_input_tokens': GEN_AI.cacheCreationInputTokens,
  'gen_ai.usage.reasoning_tokens': GEN_AI.reasoningOutputTokens,
};

/**
 * Attributes and event names that carry prompt/completion content. They never enter the hot span
 * store: they are redacted and written encrypted to the content store.
 */
export const CONTENT_ATTRIBUTES: ReadonlySet<string> = new Set([
  GEN_AI.inputMessages,
  GEN_AI.outputMessages,
  GEN_AI.systemInstructions,
  GEN_AI.toolCallArguments,
  GEN_AI.toolCallResult,
  'gen_ai.prompt',
  'gen_ai.completion',
  'gen_ai.retrieval.query.text',
  'gen_ai.retrieval.documents',
]);
/** Event names (old and current) whose attributes are message content. */
export const CONTENT_EVENT =
  /^gen_ai\.(user|system|assistant|tool|choice)\.message$|^gen_ai\.(choice|content\.prompt|content\.completion|client\.inference\.operation\.details)$/;
/** Attribute-name prefixes that are content too (legacy flattened `gen_ai.prompt.0.content`). */
export const CONTENT_PREFIXES = ['gen_ai.prompt.', 'gen_ai.completion.'] as const;

export const isContentAttribute = (k: string): boolean =>
  CONTENT_ATTRIBUTES.has(k) || (CONTENT_PREFIXES.some((p) => k.startsWith(p)) && k !== 'gen_ai.prompt.name');

/** Applies {@link ALIASES} to one attribute map (current names win). */
export function normaliseAttributes(attrs: Record<string, unknown>): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(attrs)) if (!(k in ALIASES)) out[k] = v;
  for (const [k, v] of Object.entries(attrs)) {
    const to = ALIASES[k];
    if (to && !(to in out)) out[to] = v;
  }
  return out;
}
