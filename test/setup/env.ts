import { inject } from 'vitest';
import { emulatorEnv } from '../../local/moto.js';

// Every worker talks to the run's emulator with dummy credentials; no real AWS is reachable.
Object.assign(process.env, emulatorEnv(inject('awsEndpoint')));
