import { randomBytes } from 'node:crypto';
import { provisionFromTemplate, type ProvisionedStack } from '../../local/provision.js';
import { testTemplate } from './template.js';

/**
 * Provisions the emulator from the synthesised template under a unique prefix and returns the
 * resolved names of the stack's resources by their RESOURCE_ENV variable (ARX_CONTROL_TABLE, …),
 * so adapter tests use exactly the tables, buckets and keys the stack defines.
 */
export async function provisionTestStack(): Promise<{ env: Record<string, string>; stack: ProvisionedStack }> {
  const template = testTemplate();
  const stack = await provisionFromTemplate(template, { prefix: `t${randomBytes(4).toString('hex')}` });
  const env: Record<string, string> = {};
  for (const r of Object.values(template.Resources)) {
    if (r.Type !== 'AWS::Lambda::Function') continue;
    const vars = stack.resolve(r.Properties?.Environment?.Variables ?? {}) as Record<string, string>;
    for (const [k, v] of Object.entries(vars))
      if (k.startsWith('ARX_') && k !== 'ARX_FUNCTION_NAME') env[k] = String(v);
  }
  return { env, stack };
}
