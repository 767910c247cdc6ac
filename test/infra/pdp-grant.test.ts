import { Template } from 'aws-cdk-lib/assertions';
import * as iam from 'aws-cdk-lib/aws-iam';
import { describe, expect, it, vi } from 'vitest';
import { buildApp } from '../../lib/synth.js';

// Synthesis of the whole stack takes seconds, and much longer on a loaded machine.
vi.setConfig({ testTimeout: 180_000 });

describe('Policy.grantPdpExtension', () => {
  it("F14: scopes an agent role to its own tenant's bundles and grants no control table or bus", () => {
    const { stack } = buildApp();
    const role = new iam.Role(stack, 'AgentFnRole', { assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com') });
    stack.policy.grantPdpExtension(role, 'acme');
    expect(() => stack.policy.grantPdpExtension(role, '*')).toThrow(/not a tenant id/);
    const t = Template.fromStack(stack);
    const [policy] = Object.entries(t.findResources('AWS::IAM::Policy')).filter(([, p]: [string, any]) =>
      p.Properties.Roles?.some((r: any) => JSON.stringify(r).includes('AgentFnRole')),
    );
    const doc = JSON.stringify(policy![1].Properties.PolicyDocument);
    expect(doc).toContain('/tenants/acme/*');
    expect(doc).not.toMatch(/tenants\/\*/);
    expect(doc).not.toMatch(/dynamodb:|events:PutEvents/);
  });
});
