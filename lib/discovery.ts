import { RemovalPolicy } from 'aws-cdk-lib';
import type * as dynamodb from 'aws-cdk-lib/aws-dynamodb';
import * as iam from 'aws-cdk-lib/aws-iam';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import { SCAN_ROLE_PREFIX } from '../lambdas/discovery/topology.js';
import type { ResourceRegistry } from './bindings.js';
import { arxTable, GSI1 } from './tables.js';

export interface DiscoveryProps {
  /** Registry the inventory table is registered in. */
  readonly registry: ResourceRegistry;
}

/**
 * C1 discovery storage: the agent inventory (SCD-2 versioned items) for registered and discovered
 * agents. Its functions, the CloudTrail rule on the default bus (state
 * `ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS`) and the 5-minute scan schedule come from
 * `lambdas/discovery/topology.ts` like every other capability's.
 */
export class Discovery extends Construct {
  /** Inventory table: pk/sk, GSI gsi1, retained on stack deletion (ARX_INVENTORY_TABLE). */
  readonly inventoryTable: dynamodb.Table;

  constructor(scope: Construct, id: string, props: DiscoveryProps) {
    super(scope, id);
    this.inventoryTable = arxTable(this, 'InventoryTable', { gsis: [GSI1], removalPolicy: RemovalPolicy.RETAIN });
    props.registry.registerTable('inventoryTable', this.inventoryTable);
  }
}

export interface DiscoveryScanRoleProps {
  /**
   * ARN of the ARX `discovery-scan` function's execution role (in the ARX account) — the only
   * principal that may assume this role.
   */
  readonly scannerRoleArn: string;
  /** The ARX tenant that configures this account as a source: the external id of every AssumeRole. */
  readonly tenantId: string;
  /**
   * Role name; must start with `arx-discovery-scan` (the scanner may assume only such roles).
   * @default 'arx-discovery-scan'
   */
  readonly roleName?: string;
}

/** The read-only actions a scan needs in a member account (and nothing else). */
export const SCAN_ACTIONS = [
  'bedrock:ListAgents',
  'bedrock:GetAgent',
  'bedrock-agentcore:ListAgentRuntimes',
  'bedrock-agentcore:GetAgentRuntime',
  'bedrock-agentcore:ListGateways',
  'bedrock-agentcore:GetGateway',
  'lambda:ListFunctions',
  'iam:ListRolePolicies',
  'iam:GetRolePolicy',
  'iam:ListAttachedRolePolicies',
  'iam:GetPolicy',
  'iam:GetPolicyVersion',
] as const;

/**
 * The cross-account scan role, deployed in each AWS account ARX should scan (not in the ARX
 * stack itself). Then register the account with
 * `POST /v1/discovery/sources {type:"aws_account", config:{role_arn:"<this role's ARN>", regions:[…]}}`.
 *
 * - Trust: only the ARX scanner role, and only with `sts:ExternalId` = the tenant id (the scanner
 *   always sends the configuring tenant's id, so one tenant cannot point ARX at an account another
 *   tenant onboarded).
 * - Permissions: the List/Get calls of the Bedrock agent, AgentCore, Lambda and IAM-policy reads
 *   in `SCAN_ACTIONS`; no write, no data-plane call (it cannot invoke a model or an agent), and
 *   Lambda environment values are never read by ARX (only variable names).
 * - For CloudTrail shadow discovery in that account, also forward its "AWS API Call via
 *   CloudTrail" events for `aws.bedrock` / `aws.bedrock-agentcore` to the ARX account's default bus.
 *
 * @example
 * new DiscoveryScanRole(memberStack, 'ArxScan', {
 *   scannerRoleArn: 'arn:aws:iam::111111111111:role/Arx-DiscoveryScanRole-ABC',
 *   tenantId: 'acme',
 * });
 */
export class DiscoveryScanRole extends Construct {
  readonly role: iam.Role;

  constructor(scope: Construct, id: string, props: DiscoveryScanRoleProps) {
    super(scope, id);
    const roleName = props.roleName ?? SCAN_ROLE_PREFIX;
    if (!roleName.startsWith(SCAN_ROLE_PREFIX))
      throw new Error(`DiscoveryScanRole: roleName must start with ${SCAN_ROLE_PREFIX}`);
    this.role = new iam.Role(this, 'Role', {
      roleName,
      description: 'Read-only discovery of AI agents by ARX (Bedrock agents, AgentCore, Lambda)',
      assumedBy: new iam.ArnPrincipal(props.scannerRoleArn),
      externalIds: [props.tenantId],
    });
    this.role.addToPolicy(new iam.PolicyStatement({ actions: [...SCAN_ACTIONS], resources: ['*'] }));
    NagSuppressions.addResourceSuppressions(
      this.role,
      [
        {
          id: 'AwsSolutions-IAM5',
          reason:
            'Discovery must enumerate every agent, runtime, gateway and function of the account: the List* calls take no resource ARN and Get* read what they list; all actions are read-only.',
          appliesTo: ['Resource::*'],
        },
      ],
      true,
    );
  }
}
