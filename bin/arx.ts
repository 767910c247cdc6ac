#!/usr/bin/env node
import { App, Aspects } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ArxStack } from '../lib/arx-stack.js';
import { propsFromContext } from '../lib/context.js';
import { STACK_ID } from '../lib/synth.js';

const app = new App();
new ArxStack(app, STACK_ID, propsFromContext(app.node));
Aspects.of(app).add(new AwsSolutionsChecks({ verbose: true }));
