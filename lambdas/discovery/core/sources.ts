import { combineConfidence, type Evidence } from './discovered.js';

/** A configured place to look (POST /v1/discovery/sources). */
export interface SourceConfig {
  readonly tenant_id: string;
  readonly source_id: string;
  readonly type: 'aws_account' | 'push';
  /** aws_account: the account scanned (from `role_arn`, or the deployment's own account). */
  readonly account_id?: string;
  readonly role_arn?: string;
  readonly regions: readonly string[];
  /** push: the platform its ingest names by default. */
  readonly platform?: string;
  /** push: SHA-256 of the per-source ingest token (the token itself is shown once). */
  readonly token_hash?: string;
  readonly created_at: string;
  readonly created_by: string;
}

/** What one adapter found in one region. */
export interface SourceScan {
  readonly evidence: Evidence[];
  /** Native ids it enumerated completely (a missing one was deleted on the platform). */
  readonly complete: boolean;
  readonly errors: string[];
}

/** Port: one platform's enumeration in one account and region (Bedrock agents, AgentCore, Lambda). */
export interface AgentSource {
  readonly name: string;
  /** Platforms its evidence names (a complete listing without an agent of these marks it deleted). */
  readonly platforms: readonly string[];
  scan(source: SourceConfig, region: string, now: Date): Promise<SourceScan>;
}

/** Everything a Lambda function shows about itself that suggests it is, or hosts, an agent. */
export interface LambdaFacts {
  readonly functionArn: string;
  readonly functionName: string;
  readonly roleArn?: string;
  readonly environmentKeys: readonly string[];
  readonly layerArns: readonly string[];
  /** IAM actions allowed by the role's policies (inline and attached), as written. */
  readonly roleActions: readonly string[];
  readonly lastModified?: string;
}

const ENV_MODEL =
  /^(OPENAI_API_KEY|OPENAI_BASE_URL|ANTHROPIC_API_KEY|AZURE_OPENAI_[A-Z_]+|GEMINI_API_KEY|GOOGLE_API_KEY|MISTRAL_API_KEY|COHERE_API_KEY|GROQ_API_KEY|BEDROCK_MODEL_ID|BEDROCK_[A-Z_]*MODEL[A-Z_]*|MODEL_ID)$/;
const ENV_AGENT =
  /^(BEDROCK_AGENT_ID|BEDROCK_AGENT_ALIAS_ID|AGENT_ID|LANGCHAIN_[A-Z_]+|LANGSMITH_[A-Z_]+|LANGGRAPH_[A-Z_]+|CREWAI_[A-Z_]+|OPENAI_AGENTS_[A-Z_]+|STRANDS_[A-Z_]+|AGENTCORE_[A-Z_]+)$/;
const LAYER_SDK =
  /(langchain|langgraph|openai|anthropic|crewai|llama-?index|strands|bedrock-agent|agentcore|autogen|semantic-kernel)/i;
const INVOKE =
  /^bedrock:(\*|invoke\*|invokemodel\*?|invokemodelwithresponsestream|converse\*?|conversestream|invokeagent|invokeinlineagent)$/i;

/** Whether an IAM action pattern admits calling a model. `*` and `bedrock:*` count. */
export function allowsModelInvocation(action: string): boolean {
  const a = action.trim();
  return a === '*' || /^bedrock:\*$/i.test(a) || INVOKE.test(a) || /^bedrock-agentcore:invoke/i.test(a);
}

/**
 * Scores a Lambda function from its configuration. Only the names of environment variables are
 * read, never their values (they may be secrets). Returns null when nothing suggests an agent.
 *
 * | evidence | confidence |
 * |---|---|
 * | agent framework / agent id variable | 0.6 |
 * | model provider key or model id variable | 0.4 |
 * | a layer named after an agent or model SDK | 0.3 |
 * | the role may call bedrock:InvokeModel* / Converse* | 0.5 |
 *
 * combined by noisy-OR (two independent signals beat one).
 */
export function scoreLambda(f: LambdaFacts, origin: string, now: Date): Evidence | null {
  const signals: string[] = [];
  const parts: number[] = [];
  const agentEnv = f.environmentKeys.filter((k) => ENV_AGENT.test(k));
  const modelEnv = f.environmentKeys.filter((k) => ENV_MODEL.test(k));
  const layers = f.layerArns.filter((l) => LAYER_SDK.test(l.split(':layer:')[1] ?? l));
  const invoke = f.roleActions.filter(allowsModelInvocation);
  if (agentEnv.length) {
    parts.push(0.6);
    signals.push(...agentEnv.map((k) => `env:${k}`));
  }
  if (modelEnv.length) {
    parts.push(0.4);
    signals.push(...modelEnv.map((k) => `env:${k}`));
  }
  if (layers.length) {
    parts.push(0.3);
    signals.push(...layers.map((l) => `layer:${(l.split(':layer:')[1] ?? l).split(':')[0]}`));
  }
  if (invoke.length) {
    parts.push(0.5);
    signals.push(...[...new Set(invoke)].map((a) => `role-policy:${a}`));
  }
  if (!parts.length) return null;
  return {
    platform: 'aws-lambda',
    platform_native_id: f.functionArn,
    source: 'list_api',
    origin,
    confidence: combineConfidence(parts),
    observed_at: now.toISOString(),
    name: f.functionName,
    declared_capabilities: invoke.length ? ['invoke_model'] : [],
    ...(f.roleArn ? { principal_arns: [f.roleArn] } : {}),
    signals: [...new Set(signals)].sort(),
  };
}

/** The account id of an IAM role ARN, or undefined. */
export function accountOfRole(roleArn: string): string | undefined {
  return /^arn:aws[a-z-]*:iam::(\d{12}):role\/.+$/.exec(roleArn)?.[1];
}
