import type { Client } from '@smithy/types';
import { BedrockAgentClient } from '@aws-sdk/client-bedrock-agent';
import type { ClientFactory } from '../../lambdas/discovery/adapters/aws-sources.js';
import { defaultClientFactory } from '../../lambdas/discovery/adapters/aws-sources.js';

/**
 * TEST-SIDE ONLY. moto 5.2.1's bedrock-agent answers `createdAt`/`updatedAt`/`preparedAt` as epoch
 * numbers where the real API (and so the SDK's deserializer) has RFC 3339 strings. This middleware
 * sits just below the deserializer and rewrites those numbers to ISO strings in the raw JSON body,
 * so the product adapter runs unchanged against moto. Product code never does this.
 */
export function withMotoEpochDates<C extends Client<any, any, any>>(client: C): C {
  client.middlewareStack.add(
    (next) => async (args) => {
      const out = await next(args);
      const res = out.response as { body?: AsyncIterable<Uint8Array> | Uint8Array; headers: Record<string, string> };
      if (!res?.body || res.body instanceof Uint8Array) return out;
      const chunks: Buffer[] = [];
      for await (const c of res.body as AsyncIterable<Uint8Array>) chunks.push(Buffer.from(c));
      const text = Buffer.concat(chunks).toString('utf8');
      let fixed = text;
      try {
        fixed = JSON.stringify(
          JSON.parse(text, (k, v) =>
            typeof v === 'number' && /At$/.test(k) ? new Date(v < 1e12 ? v * 1000 : v).toISOString() : v,
          ),
        );
      } catch {
        /* not JSON: leave it */
      }
      const bytes = Buffer.from(fixed, 'utf8');
      res.body = new Uint8Array(bytes);
      if (res.headers) res.headers['content-length'] = String(bytes.length);
      return out;
    },
    { step: 'deserialize', priority: 'low', name: 'motoEpochDates' },
  );
  return client;
}

/** The product client factory with the moto date fix applied to the bedrock-agent client only. */
export const motoClientFactory: ClientFactory = (source) => {
  const base = defaultClientFactory(source);
  return { ...base, bedrockAgent: (region) => withMotoEpochDates(base.bedrockAgent(region)) };
};

/** A bedrock-agent client for test set-up (creating agents in moto). */
export const motoBedrockAgent = (region = 'us-east-1') => withMotoEpochDates(new BedrockAgentClient({ region }));
