/**
 * Records every AWS SDK v3 command sent in this process (the calls still go to the emulator; this
 * is a recorder, not a mock). Patches `send` on the smithy `Client` base class that every
 * `@aws-sdk/client-*` class in this module graph extends.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';

export interface AwsCall {
  readonly client: string;
  readonly command: string;
}

/** Commands that cannot change what a StackState reads (reads, crypto without stored output, STS sessions). */
const READ_ONLY =
  /^(Get|List|Describe|Scan|Query|Head|BatchGet|TransactGet|Sign|Verify|Decrypt|Encrypt|GenerateDataKey|GenerateMac|GenerateRandom|AssumeRole|Select)/;

export const isMutating = (c: AwsCall): boolean => !READ_ONLY.test(c.command);

export function spyOnAwsCalls(): { calls: AwsCall[]; take(): AwsCall[]; restore(): void } {
  const base = Object.getPrototypeOf(DynamoDBClient.prototype) as { send: (...a: unknown[]) => unknown };
  if (typeof base.send !== 'function') throw new Error('aws-spy: the SDK client base class has no send()');
  const original = base.send;
  const calls: AwsCall[] = [];
  base.send = function (this: object, command: unknown, ...rest: unknown[]) {
    calls.push({
      client: this.constructor.name,
      command: (command as object).constructor.name.replace(/Command$/, ''),
    });
    return original.call(this, command, ...rest);
  };
  return {
    calls,
    take: () => calls.splice(0, calls.length),
    restore: () => {
      base.send = original;
    },
  };
}
