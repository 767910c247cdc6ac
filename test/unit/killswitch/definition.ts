/** Synthesises only the kill switch (its functions + the saga) and resolves the ASL's function ARNs. */
import { App, Stack } from 'aws-cdk-lib';
import { Template } from 'aws-cdk-lib/assertions';
import { ArxFunctions, ResourceRegistry } from '../../../lib/bindings.js';
import { KillSwitch } from '../../../lib/kill-switch.js';
import { PROJECT_ROOT } from '../../../lib/arx-stack.js';
import { TOPOLOGY } from '../../../lambdas/topology.js';

export function synthKillSwitch(
  context: Record<string, unknown> = {},
  arnOf: (functionName: string) => string = (n) => n,
): { definition: any; json: string; template: Template; functionNames: string[] } {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [], ...context } });
  const stack = new Stack(app, 'Ks');
  const registry = new ResourceRegistry();
  const functions = new ArxFunctions(stack, 'Fns', {
    functions: TOPOLOGY.functions.filter((f) => f.capability === 'killswitch'),
    projectRoot: PROJECT_ROOT,
    registry,
  });
  new KillSwitch(stack, 'KillSwitch', { registry, functions });
  const template = Template.fromStack(stack);
  const [sm] = Object.values(template.findResources('AWS::StepFunctions::StateMachine')) as any[];
  const names = new Map<string, string>();
  for (const [id, r] of Object.entries(template.findResources('AWS::Lambda::Function')) as [string, any][])
    names.set(id, r.Properties.Environment.Variables.ARX_FUNCTION_NAME);
  const parts = sm.Properties.DefinitionString['Fn::Join'][1] as unknown[];
  const json = parts
    .map((p: any) =>
      typeof p === 'string' ? p : p.Ref === 'AWS::Partition' ? 'aws' : arnOf(names.get(p['Fn::GetAtt'][0])!),
    )
    .join('');
  return { definition: JSON.parse(json), json, template, functionNames: [...new Set(names.values())] };
}
