import type { TestProject } from 'vitest/node';
import { startMoto, type RunningMoto } from '../../local/moto.js';

let moto: RunningMoto | undefined;

/** Starts one moto_server for the whole run; suites isolate themselves by unique resource names. */
export async function setup(project: TestProject): Promise<void> {
  if (process.env.AWS_ENDPOINT_URL) {
    project.provide('awsEndpoint', process.env.AWS_ENDPOINT_URL);
    return;
  }
  moto = await startMoto();
  project.provide('awsEndpoint', moto.endpoint);
}

export async function teardown(): Promise<void> {
  await moto?.stop();
}

declare module 'vitest' {
  export interface ProvidedContext {
    awsEndpoint: string;
  }
}
