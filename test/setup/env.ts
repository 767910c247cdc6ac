import { inject } from 'vitest';
import { emulatorEnv } from '../../local/moto.js';

// Every worker talks to the run's emulator with dummy credentials; no real AWS is reachable.
Object.assign(process.env, emulatorEnv(inject('awsEndpoint')));

// Three suites share two cores with moto: give each local function more room than the dev
// default (×3) before its timeout answers for it; a suite that tests timeouts sets its own.
process.env.ARX_LOCAL_TIMEOUT_SCALE ??= '6';
