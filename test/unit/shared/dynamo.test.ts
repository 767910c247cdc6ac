import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import {
  decodePageToken,
  encodePageToken,
  isConditionalCheckFailed,
  writeIf,
  type PageKeys,
} from '../../../lambdas/shared/dynamo.js';
import { ValidationError } from '../../../lambdas/shared/errors.js';

const events = (t: string): PageKeys => ({ attributes: ['pk', 'sk'], equal: { pk: `T#${t}#EV` } });
const byAgent = (t: string): PageKeys => ({
  attributes: ['pk', 'sk', 'gsi1pk', 'gsi1sk'],
  equal: { gsi1pk: `T#${t}` },
  prefix: { pk: `T#${t}#A#` },
});
const refused = (token: string, keys: PageKeys) => expect(() => decodePageToken(token, keys)).toThrow(ValidationError);
const raw = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

describe('page tokens', () => {
  it('round-trip a key of the listing they were minted for; no token is no start key', () => {
    const key = { pk: 'T#a#EV', sk: 'aev_01' };
    expect(decodePageToken(encodePageToken(key), events('a'))).toEqual(key);
    expect(decodePageToken(undefined, events('a'))).toBeUndefined();
    expect(decodePageToken('', events('a'))).toBeUndefined();
    const idx = { pk: 'T#a#A#agt_1', sk: 'CURRENT', gsi1pk: 'T#a', gsi1sk: 'agt_1' };
    expect(decodePageToken(encodePageToken(idx), byAgent('a'))).toEqual(idx);
  });

  it("refuse a token minted for another tenant's partition (400)", () => {
    refused(encodePageToken({ pk: 'T#a#EV', sk: 'aev_01' }), events('b'));
    // The index partition matches but the table key names another tenant.
    refused(encodePageToken({ pk: 'T#b#A#agt_1', sk: 'CURRENT', gsi1pk: 'T#a', gsi1sk: 'agt_1' }), byAgent('a'));
    // A tenant whose id is a prefix of another's.
    refused(encodePageToken({ pk: 'T#ab#A#agt_1', sk: 'CURRENT', gsi1pk: 'T#a', gsi1sk: 'agt_1' }), byAgent('a'));
  });

  it('refuse a token of another listing or shape: extra, missing or non-string attributes', () => {
    refused(encodePageToken({ pk: 'T#a#EV', sk: 'aev_01', gsi2pk: 'x', gsi2sk: 'y' }), events('a'));
    refused(encodePageToken({ pk: 'T#a#EV' }), events('a'));
    refused(raw({ pk: 'T#a#EV', sk: { S: 'aev_01' } }), events('a'));
    refused(raw({ pk: 'T#a#EV', sk: 7 }), events('a'));
    refused(raw({ pk: 'T#a#EV', sk: '' }), events('a'));
    refused(raw(['T#a#EV', 'aev_01']), events('a'));
    refused(raw(null), events('a'));
    refused(raw('T#a#EV'), events('a'));
  });

  it('refuse malformed and oversized tokens', () => {
    for (const t of ['garbage', 'not base64!', '%7B%7D', '{"pk":"T#a#EV","sk":"x"}', 'x'.repeat(4096)])
      refused(t, events('a'));
    const good = encodePageToken({ pk: 'T#a#EV', sk: 'aev_01' });
    refused(`${good}.`, events('a'));
    refused(good.slice(0, -3), events('a'));
  });

  it('refuse every altered token that is not a key of the listing (property)', () => {
    const good = encodePageToken({ pk: 'T#a#EV', sk: 'aev_01' });
    fc.assert(
      fc.property(fc.nat({ max: good.length - 1 }), fc.constantFrom(...'ABCxyz019-_'), (i, c) => {
        const t = good.slice(0, i) + c + good.slice(i + 1);
        let key: unknown;
        try {
          key = decodePageToken(t, events('a'));
        } catch (e) {
          expect(e).toBeInstanceOf(ValidationError);
          return;
        }
        // Accepted only if it still decodes to a key of tenant a's event partition.
        expect(key).toMatchObject({ pk: 'T#a#EV', sk: expect.any(String) });
      }),
    );
  });
});

describe('conditional writes', () => {
  const ccf = Object.assign(new Error('c'), { name: 'ConditionalCheckFailedException' });
  const txCcf = Object.assign(new Error('t'), {
    name: 'TransactionCanceledException',
    CancellationReasons: [{ Code: 'None' }, { Code: 'ConditionalCheckFailed' }],
  });
  const txOther = Object.assign(new Error('t'), {
    name: 'TransactionCanceledException',
    CancellationReasons: [{ Code: 'TransactionConflict' }],
  });

  it('recognise a failed condition, plain or inside a transaction, and nothing else', () => {
    expect(isConditionalCheckFailed(ccf)).toBe(true);
    expect(isConditionalCheckFailed(txCcf)).toBe(true);
    expect(isConditionalCheckFailed(txOther)).toBe(false);
    expect(isConditionalCheckFailed(new Error('x'))).toBe(false);
    expect(isConditionalCheckFailed(undefined)).toBe(false);
  });

  it('writeIf: true when written, false when the condition failed, other failures thrown', async () => {
    expect(await writeIf(Promise.resolve({}))).toBe(true);
    expect(await writeIf(Promise.reject(ccf))).toBe(false);
    expect(await writeIf(Promise.reject(txCcf))).toBe(false);
    await expect(writeIf(Promise.reject(txOther))).rejects.toBe(txOther);
  });
});
