import { fileURLToPath } from 'node:url';
import { type Duration, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { AUTHORIZER_FN, TOPOLOGY } from '../lambdas/topology.js';
import { AccessLogs } from './access-logs.js';
import { Actions } from './actions.js';
import { ArxApi, type IdpConfig } from './api.js';
import { Audit } from './audit.js';
import { ArxFunctions, ResourceRegistry, type SharedHandles } from './bindings.js';
import { Discovery } from './discovery.js';
import { ArxEventBus } from './event-bus.js';
import { Identity } from './identity.js';
import { KillSwitch } from './kill-switch.js';
import { Observability } from './observability.js';
import { PlatformStorage } from './platform-storage.js';
import { Policy } from './policy.js';

/** The repository root (entries and package-lock.json are relative to it). */
export const PROJECT_ROOT = fileURLToPath(new URL('..', import.meta.url));

export interface ArxStackProps extends StackProps {
  /** The organisation's OIDC IdP (issuer, audience, JWKS URL, tenant and roles claims). */
  readonly idp: IdpConfig;
  /** Tenants that get an initial signing key; the first is ARX_SIGNING_KEY_ARN. */
  readonly tenants: readonly string[];
  /**
   * Issuer base of ARX JWT-SVIDs.
   * @default the API endpoint
   */
  readonly svidIssuerBase?: string;
  /**
   * Object Lock COMPLIANCE default retention of the audit bucket.
   * @default Duration.days(365)
   */
  readonly auditRetention?: Duration;
  /**
   * How long the Parquet cold span copies are kept (the artifact bucket's lifecycle rule for them).
   * @default the `arx:coldSpanRetentionDays` context value, else 7 years (lib/observability.ts)
   */
  readonly coldSpanRetention?: Duration;
  /**
   * The topology to deploy.
   * @default TOPOLOGY (lambdas/topology.ts)
   */
  readonly topology?: typeof TOPOLOGY;
  /**
   * Repository root.
   * @default PROJECT_ROOT
   */
  readonly projectRoot?: string;
}

/**
 * The ARX control plane. Composes one construct per capability; the topology decides functions,
 * routes, event subscriptions and schedules. Resources are registered by the construct that owns
 * them and bound to functions (grant + env var) after every construct had its turn.
 */
export class ArxStack extends Stack {
  readonly registry = new ResourceRegistry();
  readonly platform: PlatformStorage;
  readonly discovery: Discovery;
  readonly identity: Identity;
  readonly policy: Policy;
  readonly actions: Actions;
  readonly audit: Audit;
  readonly observability: Observability;
  readonly killSwitch: KillSwitch;
  readonly eventBus: ArxEventBus;
  readonly functions: ArxFunctions;
  readonly api: ArxApi;

  constructor(scope: Construct, id: string, props: ArxStackProps) {
    super(scope, id, props);
    const topology = props.topology ?? TOPOLOGY;
    const registry = this.registry;
    const accessLogs = new AccessLogs(this, 'AccessLogs');

    // One function per topology entry; resources are bound once every construct registered its own.
    const functions = new ArxFunctions(this, 'Functions', {
      functions: topology.functions,
      projectRoot: props.projectRoot ?? PROJECT_ROOT,
      registry,
    });
    this.functions = functions;

    // Capability constructs: each owns its storage (and later its workflows, layers, queues) and
    // registers what functions may `use`. They get the function map so additions stay local.
    this.platform = new PlatformStorage(this, 'Platform', { registry });
    this.eventBus = new ArxEventBus(this, 'Events', { registry });
    const shared: SharedHandles = {
      bus: this.eventBus.bus,
      controlTable: this.platform.controlTable,
      dataKey: this.platform.dataKey,
    };
    this.discovery = new Discovery(this, 'Discovery', { registry });
    this.identity = new Identity(this, 'Identity', { registry, functions, tenants: props.tenants });
    this.policy = new Policy(this, 'Policy', { registry, functions, shared, accessLogs });
    this.audit = new Audit(this, 'Audit', { registry, functions, accessLogs, retention: props.auditRetention });
    this.observability = new Observability(this, 'Observability', {
      registry,
      coldBucket: this.audit.artifactBucket,
      ...(props.coldSpanRetention ? { coldSpanRetention: props.coldSpanRetention } : {}),
    });
    this.actions = new Actions(this, 'Actions', { registry, functions, shared });
    this.killSwitch = new KillSwitch(this, 'KillSwitch', { registry, functions });
    functions.bindResources();

    this.api = new ArxApi(this, 'Api', {
      functions: this.functions,
      routes: topology.routes,
      authorizerFunction: AUTHORIZER_FN,
      idp: props.idp,
      svidIssuerBase: props.svidIssuerBase,
    });
    this.eventBus.addSubscriptions(topology.events, this.functions);
    this.eventBus.addSchedules(topology.schedules, this.functions);
  }
}
