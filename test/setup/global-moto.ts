import type { TestProject } from 'vitest/node';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startMoto, type RunningMoto } from '../../local/moto.js';
import { synthTemplate } from '../../lib/synth.js';

let moto: RunningMoto | undefined;
let dir: string | undefined;

/** Starts one moto_server for the whole run; suites isolate themselves by unique resource names. */
export async function setup(project: TestProject): Promise<void> {
  // Synthesise the stack once for the whole run (bundling skipped); suites provision from it.
  dir = mkdtempSync(join(tmpdir(), 'arx-test-'));
  const templatePath = join(dir, 'template.json');
  writeFileSync(templatePath, JSON.stringify(synthTemplate()));
  project.provide('templatePath', templatePath);
  if (process.env.AWS_ENDPOINT_URL) {
    project.provide('awsEndpoint', process.env.AWS_ENDPOINT_URL);
    return;
  }
  moto = await startMoto();
  project.provide('awsEndpoint', moto.endpoint);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
  if (dir) rmSync(dir, { recursive: true, force: true });
}

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
    templatePath: string;
  }
}
