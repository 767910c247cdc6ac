import { describe, expect, it } from 'vitest';
import { randomBytes } from 'node:crypto';
import { CreateAgentCommand, DeleteAgentCommand } from '@aws-sdk/client-bedrock-agent';
import {
  BedrockAgentCoreControlClient,
  CreateAgentRuntimeCommand,
  CreateGatewayCommand,
} from '@aws-sdk/client-bedrock-agentcore-control';
import {
  AttachRolePolicyCommand,
  CreatePolicyCommand,
  CreateRoleCommand,
  IAMClient,
  PutRolePolicyCommand,
} from '@aws-sdk/client-iam';
import { CreateFunctionCommand, LambdaClient } from '@aws-sdk/client-lambda';
import {
  AgentCoreSource,
  BedrockAgentsSource,
  LambdaFunctionsSource,
  allowedActions,
} from '../../../lambdas/discovery/adapters/aws-sources.js';
import type { SourceConfig } from '../../../lambdas/discovery/core/sources.js';
import { motoBedrockAgent, motoClientFactory } from '../../support/moto-bedrock.js';

const ACCOUNT = '123456789012';
const tag = randomBytes(3).toString('hex');
const source = (region: string): SourceConfig => ({
  tenant_id: 'acme',
  source_id: `src-${tag}`,
  type: 'aws_account',
  account_id: ACCOUNT,
  regions: [region],
  created_at: new Date().toISOString(),
  created_by: 'test',
});
const iam = new IAMClient({ region: 'us-east-1' });
const trust = JSON.stringify({
  Version: '2012-10-17',
  Statement: [{ Effect: 'Allow', Principal: { Service: 'lambda.amazonaws.com' }, Action: 'sts:AssumeRole' }],
});
async function role(name: string): Promise<string> {
  return (await iam.send(new CreateRoleCommand({ RoleName: name, AssumeRolePolicyDocument: trust }))).Role!.Arn!;
}

describe('BedrockAgentsSource (contract, moto bedrock-agent)', () => {
  const region = 'eu-west-3';
  it('lists every agent with GetAgent detail: name, model, role; a deleted agent is no longer listed', async () => {
    const ba = motoBedrockAgent(region);
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/bedrock-agent-${tag}`;
    const a = (
      await ba.send(
        new CreateAgentCommand({
          agentName: `support-${tag}`,
          agentResourceRoleArn: roleArn,
          foundationModel: 'anthropic.claude-3-haiku-20240307-v1:0',
          instruction: 'Answer customer questions about orders.',
        }),
      )
    ).agent!;
    const b = (
      await ba.send(
        new CreateAgentCommand({
          agentName: `gone-${tag}`,
          agentResourceRoleArn: roleArn,
          foundationModel: 'amazon.nova-lite-v1:0',
          instruction: 'This agent will be deleted soon.',
        }),
      )
    ).agent!;
    await ba.send(new DeleteAgentCommand({ agentId: b.agentId! }));

    const out = await new BedrockAgentsSource(motoClientFactory).scan(source(region), region, new Date());

    expect(out.errors).toEqual([]);
    expect(out.complete).toBe(true);
    const ev = out.evidence.find((e) => e.platform_native_id === a.agentId)!;
    expect(ev).toMatchObject({
      platform: 'bedrock',
      source: 'list_api',
      confidence: 1,
      origin: `aws:${ACCOUNT}:${region}`,
      name: `support-${tag}`,
      declared_capabilities: ['model:anthropic.claude-3-haiku-20240307-v1:0'],
      principal_arns: [roleArn],
    });
    expect(out.evidence.some((e) => e.platform_native_id === b.agentId)).toBe(false);
  });

  it('fails loudly without the moto date fix (the reason the test-side middleware exists)', async () => {
    const { defaultClientFactory } = await import('../../../lambdas/discovery/adapters/aws-sources.js');
    await expect(
      new BedrockAgentsSource(defaultClientFactory).scan(source(region), region, new Date()),
    ).rejects.toThrow(/date-times|RFC-3339/);
  });
});

describe('AgentCoreSource (contract, moto bedrock-agentcore-control)', () => {
  const region = 'us-west-2';
  it('lists runtimes and gateways with their roles', async () => {
    const ac = new BedrockAgentCoreControlClient({ region });
    const roleArn = `arn:aws:iam::${ACCOUNT}:role/agentcore-${tag}`;
    const rt = await ac.send(
      new CreateAgentRuntimeCommand({
        agentRuntimeName: `rt_${tag}`,
        roleArn,
        networkConfiguration: { networkMode: 'PUBLIC' },
        agentRuntimeArtifact: {
          containerConfiguration: { containerUri: `${ACCOUNT}.dkr.ecr.${region}.amazonaws.com/agent:latest` },
        },
      }),
    );
    const gw = await ac.send(
      new CreateGatewayCommand({ name: `gw-${tag}`, roleArn, protocolType: 'MCP', authorizerType: 'AWS_IAM' }),
    );

    const out = await new AgentCoreSource(motoClientFactory).scan(source(region), region, new Date());

    expect(out.errors).toEqual([]);
    expect(out.evidence.find((e) => e.platform_native_id === `runtime/${rt.agentRuntimeId}`)).toMatchObject({
      platform: 'bedrock-agentcore',
      name: `rt_${tag}`,
      declared_capabilities: ['agent_runtime'],
      principal_arns: [roleArn],
      confidence: 1,
    });
    expect(out.evidence.find((e) => e.platform_native_id === `gateway/${gw.gatewayId}`)).toMatchObject({
      platform: 'bedrock-agentcore',
      name: `gw-${tag}`,
      declared_capabilities: ['mcp_gateway', 'protocol:MCP'],
      principal_arns: [roleArn],
    });
  });
});

describe('LambdaFunctionsSource (contract, moto lambda + iam)', () => {
  const region = 'sa-east-1';
  const zip = minimalZip();

  it('scores functions from env names, layers and role policies, and ignores plain functions', async () => {
    const lambda = new LambdaClient({ region });
    const inlineRole = await role(`fn-inline-${tag}`);
    await iam.send(
      new PutRolePolicyCommand({
        RoleName: `fn-inline-${tag}`,
        PolicyName: 'models',
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: [
            {
              Effect: 'Allow',
              Action: ['bedrock:InvokeModel', 'bedrock:InvokeModelWithResponseStream'],
              Resource: '*',
            },
          ],
        }),
      }),
    );
    const attachedRole = await role(`fn-attached-${tag}`);
    const pol = await iam.send(
      new CreatePolicyCommand({
        PolicyName: `converse-${tag}`,
        PolicyDocument: JSON.stringify({
          Version: '2012-10-17',
          Statement: { Effect: 'Allow', Action: 'bedrock:Converse*', Resource: '*' },
        }),
      }),
    );
    await iam.send(new AttachRolePolicyCommand({ RoleName: `fn-attached-${tag}`, PolicyArn: pol.Policy!.Arn! }));
    const plainRole = await role(`fn-plain-${tag}`);
    const mk = (name: string, roleArn: string, env: Record<string, string>, layers: string[] = []) =>
      lambda.send(
        new CreateFunctionCommand({
          FunctionName: name,
          Runtime: 'nodejs22.x',
          Role: roleArn,
          Handler: 'index.handler',
          Code: { ZipFile: zip },
          Environment: { Variables: env },
          Layers: layers,
        }),
      );
    const agentFn = await mk(`agent-${tag}`, inlineRole, {
      LANGCHAIN_API_KEY: 'secret-value-never-read',
      OPENAI_API_KEY: 'sk-secret',
    });
    const converseFn = await mk(`converse-${tag}`, attachedRole, { TABLE: 'x' });
    await mk(`plain-${tag}`, plainRole, { TABLE: 'x' });

    const out = await new LambdaFunctionsSource(motoClientFactory).scan(source(region), region, new Date());

    expect(out.errors).toEqual([]);
    const agent = out.evidence.find((e) => e.platform_native_id === agentFn.FunctionArn)!;
    expect(agent).toMatchObject({
      platform: 'aws-lambda',
      source: 'list_api',
      name: `agent-${tag}`,
      principal_arns: [inlineRole],
      declared_capabilities: ['invoke_model'],
    });
    // agent env 0.6, model key 0.4, role policy 0.5 → 1 - 0.4·0.6·0.5 = 0.88
    expect(agent.confidence).toBe(0.88);
    expect(agent.signals).toEqual(
      expect.arrayContaining(['env:LANGCHAIN_API_KEY', 'env:OPENAI_API_KEY', 'role-policy:bedrock:InvokeModel']),
    );
    expect(JSON.stringify(agent)).not.toContain('secret');
    const converse = out.evidence.find((e) => e.platform_native_id === converseFn.FunctionArn)!;
    expect(converse.confidence).toBe(0.5);
    expect(converse.signals).toEqual(['role-policy:bedrock:Converse*']);
    expect(out.evidence.some((e) => e.name === `plain-${tag}`)).toBe(false);
  });

  it('reads Allow actions from URL-encoded policy documents (as IAM returns them)', () => {
    const doc = encodeURIComponent(
      JSON.stringify({
        Statement: [
          { Effect: 'Allow', Action: 'bedrock:InvokeModel' },
          { Effect: 'Deny', Action: '*' },
        ],
      }),
    );
    expect(allowedActions(doc)).toEqual(['bedrock:InvokeModel']);
    expect(allowedActions('not json')).toEqual([]);
  });
});

/** A stored (uncompressed) zip with one file: the smallest code package moto accepts. */
function minimalZip(): Uint8Array {
  const name = Buffer.from('index.js');
  const data = Buffer.from('exports.handler=async()=>1');
  const crc = crc32(data);
  const local = Buffer.alloc(30);
  local.writeUInt32LE(0x04034b50, 0);
  local.writeUInt16LE(20, 4);
  local.writeUInt32LE(crc, 14);
  local.writeUInt32LE(data.length, 18);
  local.writeUInt32LE(data.length, 22);
  local.writeUInt16LE(name.length, 26);
  const central = Buffer.alloc(46);
  central.writeUInt32LE(0x02014b50, 0);
  central.writeUInt16LE(20, 4);
  central.writeUInt16LE(20, 6);
  central.writeUInt32LE(crc, 16);
  central.writeUInt32LE(data.length, 20);
  central.writeUInt32LE(data.length, 24);
  central.writeUInt16LE(name.length, 28);
  const localLen = local.length + name.length + data.length;
  const end = Buffer.alloc(22);
  end.writeUInt32LE(0x06054b50, 0);
  end.writeUInt16LE(1, 8);
  end.writeUInt16LE(1, 10);
  end.writeUInt32LE(central.length + name.length, 12);
  end.writeUInt32LE(localLen, 16);
  return new Uint8Array(Buffer.concat([local, name, data, central, name, end]));
}
function crc32(buf: Buffer): number {
  let c = ~0;
  for (const b of buf) {
    c ^= b;
    for (let k = 0; k < 8; k++) c = (c >>> 1) ^ (0xedb88320 & -(c & 1));
  }
  return ~c >>> 0;
}
