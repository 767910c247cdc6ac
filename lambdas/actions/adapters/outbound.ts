// The F22 outbound guard lives in lambdas/shared/outbound.ts (observability's OTLP export uses it too).
export * from '../../shared/outbound.js';
