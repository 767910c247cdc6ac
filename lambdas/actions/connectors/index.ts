import type { Connector } from '../core/model.js';
import { awsConnector } from './aws.js';
import { httpConnector } from './http.js';
import { oktaConnector } from './okta.js';

/** The shipped connectors, by name. */
export const CONNECTORS: ReadonlyMap<string, Connector> = new Map([oktaConnector, awsConnector, httpConnector].map((c) => [c.name, c]));
