// The route property test (test/support/routes-property.ts) for the actions group's routes.
import { describeRoutesProperty } from '../support/routes-property.js';

describeRoutesProperty('actions');
