/**
 * ARX as an in-process MCP gateway sees it, for tests that need real decisions without the local
 * runtime: the YAML policy compiled to Cedar and loaded as a bundle (ARX's own PDP code), every
 * enforcement record kept in `audit`. Held calls are not supported (no action service).
 */
import { compileYamlPolicy } from '../../lambdas/policy/core/yaml-policy.js';
import { indexPolicies } from '../../lambdas/policy/core/engine.js';
import { BUNDLE_FORMAT, digestOf, type BundleContent } from '../../lambdas/policy/core/bundle.js';
import { buildBloom } from '../../lambdas/policy/core/bloom.js';
import { decideWith, loadBundle } from '../../lambdas/policy/core/decide.js';
import type { ArxPort, EnforcementRecord, ExecutionRecord } from '../../sdk/mcp-gateway/arx.js';

export function inProcessPdp(
  yaml: string,
  agentId = 'agt_test',
): ArxPort & { audit: EnforcementRecord[]; executions: ExecutionRecord[] } {
  const compiled = compileYamlPolicy(yaml);
  const content: BundleContent = {
    format_version: BUNDLE_FORMAT,
    tenant_id: 'test',
    bundle_id: 'pb_test_mcp',
    version: 1,
    created_at: new Date(0).toISOString(),
    source_format: 'yaml',
    schema: compiled.schema,
    policies: indexPolicies(compiled.policies),
    entities: [],
    risk: compiled.risk,
    action_patterns: compiled.actionPatterns,
    revoked_bloom: buildBloom([]),
  };
  const bundle = loadBundle(content, digestOf(content));
  const audit: EnforcementRecord[] = [];
  const executions: ExecutionRecord[] = [];
  return {
    audit,
    executions,
    agentId: async () => agentId,
    evaluate: async (action, context) => {
      const d = decideWith(
        bundle,
        { tenantId: 'test', principal: { type: 'Agent', id: agentId }, action, context },
        'clear',
      );
      return {
        effect: d.effect,
        approval: d.approval,
        risk: d.risk,
        determining_policies: d.determining_policies,
        errors: d.errors,
        bundle_version: d.bundle_version,
      };
    },
    record: async (e) => void audit.push(e),
    executed: async (e) => void executions.push(e),
    submitHeld: async () => {
      throw new Error('held calls need the action service (use the local runtime)');
    },
    getAction: async () => {
      throw new Error('held calls need the action service (use the local runtime)');
    },
  };
}
