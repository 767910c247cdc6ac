import type { Clock } from '../../lambdas/shared/clock.js';

/** A clock tests can move. */
export class ManualClock implements Clock {
  constructor(private t: number = Date.parse('2026-01-01T00:00:00Z')) {}
  now(): Date {
    return new Date(this.t);
  }
  advance(ms: number): void {
    this.t += ms;
  }
  set(iso: string | Date): void {
    this.t = typeof iso === 'string' ? Date.parse(iso) : iso.getTime();
  }
}
