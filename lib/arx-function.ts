import { existsSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import * as iam from 'aws-cdk-lib/aws-iam';
import type * as kms from 'aws-cdk-lib/aws-kms';
import * as lambda from 'aws-cdk-lib/aws-lambda';
import * as logs from 'aws-cdk-lib/aws-logs';
import { NodejsFunction, OutputFormat, SourceMapMode } from 'aws-cdk-lib/aws-lambda-nodejs';
import { NagSuppressions } from 'cdk-nag';
import { Construct } from 'constructs';
import type { SettingName } from '../lambdas/shared/settings.js';
import type { FunctionSpec } from '../lambdas/shared/topology-types.js';
import type { Iam5Ack } from './bindings.js';
import { HANDLER_SETTINGS } from './handler-settings.gen.js';

/** Raised at synth time when a topology entry names a handler file that does not exist. */
export class MissingHandlerError extends Error {
  override readonly name = 'MissingHandlerError';
}

/**
 * IAM5 acknowledgement every function role needs; `ArxFunctions.bindResources` adds it together
 * with the binding acknowledgements (merging reasons that share an `appliesTo`).
 */
export const XRAY_ACK: Iam5Ack = {
  appliesTo: 'Resource::*',
  reason:
    'X-Ray PutTraceSegments/PutTelemetryRecords (active tracing) support no resource-level permissions, so their resource is "*".',
};

/** The pinned Lambda runtime for every ARX function (ARCHITECTURE.md: nodejs22.x, ARM64). */
export const ARX_RUNTIME = lambda.Runtime.NODEJS_22_X;

/**
 * ESM bundles need `require` for the CommonJS dependencies esbuild leaves as dynamic requires, and
 * `__dirname`/`__filename` for bundled CommonJS code that loads files beside itself (esbuild
 * `define`s them to these uniquely named constants, so nothing in the bundle can collide).
 */
export const ESM_REQUIRE_BANNER =
  "import { createRequire } from 'module';const require = createRequire(import.meta.url);" +
  "import { fileURLToPath as __arxFileURLToPath } from 'url';import { dirname as __arxDirnameOf } from 'path';" +
  'const __arxFilename = __arxFileURLToPath(import.meta.url);const __arxDirname = __arxDirnameOf(__arxFilename);';

/** esbuild settings every ARX bundle shares (also used by the bundle smoke test). */
export const BUNDLE_SETTINGS = {
  target: 'node22',
  mainFields: ['module', 'main'],
  define: { __dirname: '__arxDirname', __filename: '__arxFilename' },
} as const;

/**
 * Sidecar files bundled packages read from `__dirname` (now the bundle's directory): when the
 * bundle references `marker`, `file` (repo-relative) is copied beside index.mjs.
 */
export const BUNDLE_SIDECARS: readonly { readonly marker: string; readonly file: string }[] = [
  // '@cedar-policy/cedar-wasm/nodejs' reads `${__dirname}/cedar_wasm_bg.wasm` when bundled.
  { marker: 'cedar_wasm_bg.wasm', file: 'node_modules/@cedar-policy/cedar-wasm/nodejs/cedar_wasm_bg.wasm' },
];

export interface ArxFunctionProps {
  /** The topology entry this function implements. */
  readonly spec: FunctionSpec;
  /** Absolute path of the repository root (entries and the lock file are relative to it). */
  readonly projectRoot: string;
  /**
   * Retention of the function's log group.
   * @default logs.RetentionDays.ONE_MONTH
   */
  readonly logRetention?: logs.RetentionDays;
  /**
   * Customer managed key encrypting the log group (its key policy must admit CloudWatch Logs).
   * @default CloudWatch Logs' own encryption
   */
  readonly logEncryptionKey?: kms.IKey;
  /**
   * Removal policy of the function's log group.
   * @default RemovalPolicy.RETAIN
   */
  readonly logRemovalPolicy?: RemovalPolicy;
}

/**
 * The one shared function construct: nodejs22.x on ARM64, X-Ray active tracing, an explicit log
 * group with retention, an explicit execution role (no AWS managed policies), and an esbuild ESM
 * bundle (`index.mjs`, minified, with source maps). Every function carries `ARX_FUNCTION_NAME` so
 * the local runtime can find it in the synthesised template.
 *
 * @example
 * const fn = new ArxFunction(this, 'DiscoveryApi', { spec: functionSpec('discovery-api'), projectRoot });
 * table.grantReadData(fn.function);
 */
export class ArxFunction extends Construct {
  /** The Lambda function. */
  readonly function: NodejsFunction;
  /** Its execution role (logs + X-Ray only until resources are bound). */
  readonly role: iam.Role;
  /** Its log group. */
  readonly logGroup: logs.LogGroup;
  /** The topology entry it implements. */
  readonly spec: FunctionSpec;
  /** The settings its handler declares (`export const settings`; lib/handler-settings.gen.ts). */
  readonly reads: ReadonlySet<SettingName>;

  constructor(scope: Construct, id: string, props: ArxFunctionProps) {
    super(scope, id);
    const { spec, projectRoot } = props;
    this.spec = spec;

    const entry = join(projectRoot, spec.entry);
    if (!existsSync(entry)) {
      throw new MissingHandlerError(
        `ARX function "${spec.name}" (${spec.capability}): handler entry "${spec.entry}" does not exist under ${projectRoot}. ` +
          `Create it (exporting \`handler\`) or fix the entry in lambdas/${spec.capability}/topology.ts.`,
      );
    }
    const reads = HANDLER_SETTINGS[spec.entry];
    if (!reads) {
      throw new MissingHandlerError(
        `ARX function "${spec.name}": lib/handler-settings.gen.ts does not list "${spec.entry}"; run npm run gen:settings.`,
      );
    }
    this.reads = new Set(reads);

    this.logGroup = new logs.LogGroup(this, 'Logs', {
      retention: props.logRetention ?? logs.RetentionDays.ONE_MONTH,
      encryptionKey: props.logEncryptionKey,
      removalPolicy: props.logRemovalPolicy ?? RemovalPolicy.RETAIN,
    });

    this.role = new iam.Role(this, 'Role', {
      assumedBy: new iam.ServicePrincipal('lambda.amazonaws.com'),
      description: `Execution role of ARX function ${spec.name}`,
    });
    // Instead of AWSLambdaBasicExecutionRole (logs:* on every group): write only to this group.
    this.logGroup.grantWrite(this.role);

    this.function = new NodejsFunction(this, 'Function', {
      entry,
      handler: 'handler',
      description: spec.description,
      runtime: ARX_RUNTIME,
      architecture: lambda.Architecture.ARM_64,
      tracing: lambda.Tracing.ACTIVE,
      memorySize: spec.memoryMb ?? 512,
      timeout: Duration.seconds(spec.timeoutSeconds ?? 10),
      role: this.role,
      logGroup: this.logGroup,
      loggingFormat: lambda.LoggingFormat.JSON,
      projectRoot,
      depsLockFilePath: join(projectRoot, 'package-lock.json'),
      environment: {
        ARX_FUNCTION_NAME: spec.name,
        POWERTOOLS_SERVICE_NAME: `arx-${spec.capability}`,
        NODE_OPTIONS: '--enable-source-maps',
        ...(spec.environment ?? {}),
      },
      bundling: {
        format: OutputFormat.ESM,
        mainFields: [...BUNDLE_SETTINGS.mainFields],
        banner: ESM_REQUIRE_BANNER,
        define: { ...BUNDLE_SETTINGS.define },
        minify: true,
        sourceMap: true,
        sourceMapMode: SourceMapMode.DEFAULT,
        sourcesContent: false,
        target: BUNDLE_SETTINGS.target,
        // Bundle the AWS SDK: the deployed code runs the SDK versions the tests ran against.
        bundleAwsSDK: true,
        // `nodeModules` packages stay external and are copied beside the bundle from the local
        // node_modules (the versions package-lock.json pinned) — no npm install, so synth is offline.
        externalModules: [...(spec.nodeModules ?? [])],
        commandHooks: {
          beforeBundling: () => [],
          beforeInstall: () => [],
          afterBundling: (inputDir: string, outputDir: string) => [
            ...packageClosure(projectRoot, spec.nodeModules ?? [], spec.name).map(
              (rel) =>
                `mkdir -p "${join(outputDir, dirname(rel))}" && cp -R "${join(inputDir, rel)}" "${join(outputDir, rel)}"`,
            ),
            ...BUNDLE_SIDECARS.map(
              (c) =>
                `if grep -q "${c.marker}" "${join(outputDir, 'index.mjs')}"; then cp "${join(inputDir, c.file)}" "${outputDir}/"; fi`,
            ),
          ],
        },
        forceDockerBundling: false,
      },
    });

    NagSuppressions.addResourceSuppressions(this.function, [
      {
        id: 'AwsSolutions-L1',
        reason:
          'ARCHITECTURE.md pins nodejs22.x (the runtime the code and tests target); moving runtimes is a deliberate upgrade, not an automatic one.',
      },
    ]);
  }

  /**
   * Sets a setting's variable when the function's handler reads it, and only then: a function's
   * environment holds only what its handler declares (test/infra/settings.test.ts).
   * @returns whether the variable was set
   */
  bindSetting(name: SettingName, value: string): boolean {
    if (!this.reads.has(name)) return false;
    this.function.addEnvironment(name, value);
    return true;
  }
}

/**
 * The repo-relative `node_modules/<pkg>` directories of `packages` and their production
 * dependencies, resolved from the repository's installed node_modules.
 * @throws MissingHandlerError naming the package when it is not installed.
 */
export function packageClosure(projectRoot: string, packages: readonly string[], fnName = '?'): string[] {
  const seen = new Set<string>();
  const visit = (pkg: string): void => {
    if (seen.has(pkg)) return;
    const manifest = join(projectRoot, 'node_modules', pkg, 'package.json');
    if (!existsSync(manifest)) {
      throw new MissingHandlerError(
        `ARX function "${fnName}": nodeModules package "${pkg}" is not installed under ${projectRoot}node_modules`,
      );
    }
    seen.add(pkg);
    const deps =
      (JSON.parse(readFileSync(manifest, 'utf8')) as { dependencies?: Record<string, string> }).dependencies ?? {};
    // A dependency nested under the package's own node_modules is copied along with it.
    for (const d of Object.keys(deps))
      if (!existsSync(join(projectRoot, 'node_modules', pkg, 'node_modules', d))) visit(d);
  };
  packages.forEach(visit);
  return [...seen].map((p) => join('node_modules', p));
}
