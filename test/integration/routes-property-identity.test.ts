// The route property test (test/support/routes-property.ts) for the identity group's routes.
import { describeRoutesProperty } from '../support/routes-property.js';

describeRoutesProperty('identity');
