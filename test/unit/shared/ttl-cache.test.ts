import { describe, expect, it } from 'vitest';
import { TtlCache } from '../../../lambdas/shared/ttl-cache.js';

describe('TtlCache', () => {
  const setup = (ttl: number, max?: number) => {
    let t = 0;
    const cache = new TtlCache<string>(ttl, max, () => t);
    let loads = 0;
    const load = (v: string) => () => {
      loads++;
      return Promise.resolve(v);
    };
    return { cache, load, loads: () => loads, tick: (ms: number) => (t += ms) };
  };

  it('answers a read within the window without loading, and loads again after it', async () => {
    const c = setup(1000);
    expect(await c.cache.get('k', c.load('a'))).toBe('a');
    c.tick(999);
    expect(await c.cache.get('k', c.load('b'))).toBe('a');
    c.tick(1);
    expect(await c.cache.get('k', c.load('c'))).toBe('c');
    expect(c.loads()).toBe(2);
  });

  it('shares one load between concurrent reads of a key', async () => {
    const c = setup(1000);
    let release!: (v: string) => void;
    const slow = () => new Promise<string>((r) => (release = r));
    const both = Promise.all([c.cache.get('k', slow), c.cache.get('k', c.load('other'))]);
    release('v');
    expect(await both).toEqual(['v', 'v']);
    expect(c.loads()).toBe(0);
  });

  it('keeps no failure: the next read loads again', async () => {
    const c = setup(1000);
    await expect(c.cache.get('k', () => Promise.reject(new Error('down')))).rejects.toThrow('down');
    expect(await c.cache.get('k', c.load('up'))).toBe('up');
  });

  it('drops a key on delete, never caches with a zero window, and bounds its size', async () => {
    const c = setup(1000, 2);
    await c.cache.get('k', c.load('a'));
    c.cache.delete('k');
    expect(await c.cache.get('k', c.load('b'))).toBe('b');
    await c.cache.get('j', c.load('j'));
    await c.cache.get('i', c.load('i')); // evicts the oldest (k)
    expect(await c.cache.get('k', c.load('k2'))).toBe('k2');
    const z = setup(0);
    await z.cache.get('k', z.load('a'));
    expect(await z.cache.get('k', z.load('b'))).toBe('b');
  });
});
