#!/usr/bin/env node
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ArxStack, PROJECT_ROOT } from '../lib/arx-stack.js';
import { ArxConsoleStack } from '../lib/console-site.js';
import { propsFromContext } from '../lib/context.js';
import { STACK_ID } from '../lib/synth.js';

const app = new App();
const props = propsFromContext(app.node);
const arx = new ArxStack(app, STACK_ID, props);
// The console (S3 + CloudFront, same origin as the API through /v1/*) in its own stack.
new ArxConsoleStack(app, `${STACK_ID}Console`, {
  apiUrl: arx.api.url,
  idp: props.idp,
  clientId: String(app.node.tryGetContext('arx:consoleClientId') ?? 'arx-console'),
  auditBucketName: arx.audit.auditBucket.bucketName,
  projectRoot: PROJECT_ROOT,
});
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
