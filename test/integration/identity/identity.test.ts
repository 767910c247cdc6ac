// The identity integration suites share one provisioned stack (see harness.ts sharedIdentity).
import './token.suite.js';
import './owners-broker.suite.js';
import './credentials.suite.js';
