import { describe, expect, it } from 'vitest';
import { alive, portIsFree, startDev, type DevProcess } from './support/dev-process.js';

/** Bounded loopback load: `workers` loops of authorised reads until `until()` is true. */
function load(
  dev: DevProcess,
  workers: number,
  until: () => boolean,
): { done: Promise<void>; answered: () => Record<number, number> } {
  const answered: Record<number, number> = {};
  const one = async () => {
    while (!until()) {
      try {
        const r = await fetch(`${dev.dev.apiUrl}/v1/discovery/agents`, {
          headers: { authorization: `Bearer ${dev.dev.tokens.auditor}` },
        });
        await r.arrayBuffer();
        answered[r.status] = (answered[r.status] ?? 0) + 1;
      } catch {
        // Refused or reset once the server stops: expected after SIGINT.
        await new Promise((r) => setTimeout(r, 20));
      }
    }
  };
  return { done: Promise.all(Array.from({ length: workers }, one)).then(() => undefined), answered: () => answered };
}

/** SIGINT to the dev process (as `kill -INT`), then: exit within 5 s, port free, no process of its group left. */
async function interruptAndCheck(dev: DevProcess, motoPid: number): Promise<{ ms: number; code: number | null }> {
  const t0 = Date.now();
  dev.child.kill('SIGINT');
  const code = await Promise.race([dev.exited, new Promise<'late'>((r) => setTimeout(() => r('late'), 5000))]);
  const ms = Date.now() - t0;
  if (code === 'late') throw new Error(`dev did not exit within 5 s of SIGINT:\n${dev.output()}`);
  // The group may need a moment for the kernel to reap what was killed.
  const deadline = Date.now() + 1000;
  while ((dev.group().length || alive(motoPid)) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  expect(dev.group()).toEqual([]);
  expect(alive(motoPid)).toBe(false);
  expect(await portIsFree(dev.port)).toBe(true);
  return { ms, code };
}

describe('npm run dev: Ctrl-C stops everything within 5 s in every state', () => {
  it('under load with requests in flight: exits 0, port free, no child process (moto included) remains', async () => {
    const dev = await startDev();
    try {
      const motoPid = dev.motoPid();
      let stop = false;
      const l = load(dev, 20, () => stop);
      // Let the load run until a good number of requests have been answered.
      const until = Date.now() + 20_000;
      while ((l.answered()[200] ?? 0) < 60 && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      expect(l.answered()[200] ?? 0).toBeGreaterThanOrEqual(60);
      const { ms, code } = await interruptAndCheck(dev, motoPid);
      stop = true;
      await l.done;
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
    } finally {
      dev.kill();
    }
  }, 240_000);

  it('with the emulator hung (SIGSTOP) and requests blocked on it: still stops within 5 s, moto killed', async () => {
    const dev = await startDev();
    try {
      const motoPid = dev.motoPid();
      // Warm the path, then freeze the emulator and leave requests hanging on it.
      expect(
        (
          await fetch(`${dev.dev.apiUrl}/v1/discovery/agents`, {
            headers: { authorization: `Bearer ${dev.dev.tokens.auditor}` },
          })
        ).status,
      ).toBe(200);
      process.kill(motoPid, 'SIGSTOP');
      let stop = false;
      const l = load(dev, 5, () => stop);
      await new Promise((r) => setTimeout(r, 1000));
      const { ms } = await interruptAndCheck(dev, motoPid);
      stop = true;
      await l.done;
      expect(ms).toBeLessThan(5000);
    } finally {
      dev.kill();
    }
  }, 240_000);

  it('with the emulator gone (moto killed behind its back), idle: stops within 5 s, port free', async () => {
    const dev = await startDev();
    try {
      const motoPid = dev.motoPid();
      process.kill(motoPid, 'SIGKILL');
      // Schedules and pollers now fail against a dead emulator; a few requests fail too.
      await new Promise((r) => setTimeout(r, 1500));
      await fetch(`${dev.dev.apiUrl}/v1/discovery/agents`, {
        headers: { authorization: `Bearer ${dev.dev.tokens.auditor}` },
      }).catch(() => undefined);
      const { ms, code } = await interruptAndCheck(dev, motoPid);
      expect(code).toBe(0);
      expect(ms).toBeLessThan(5000);
    } finally {
      dev.kill();
    }
  }, 240_000);
});
