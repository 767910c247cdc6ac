import { describe, expect, it } from 'vitest';
import { rebindingRefusal } from '../../../sdk/mcp-gateway/index.js';

describe('rebindingRefusal (the local gateway listener)', () => {
  const allowed = new Set(['localhost', '127.0.0.1', '[::1]', 'gw.internal']);

  it('answers the allowed host names on any port, with a matching Origin or none', () => {
    for (const host of ['localhost:8080', '127.0.0.1:1', '[::1]:9000', 'LOCALHOST', 'gw.internal:443'])
      expect(rebindingRefusal({ host }, allowed), host).toBeNull();
    expect(rebindingRefusal({ host: 'localhost:1', origin: 'http://127.0.0.1:5173' }, allowed)).toBeNull();
  });

  it('refuses another host, a missing or unparsable Host, and a foreign or opaque Origin', () => {
    expect(rebindingRefusal({ host: 'evil.example.com' }, allowed)).toBe('Invalid Host header: evil.example.com');
    expect(rebindingRefusal({ host: 'localhost.evil.example.com:80' }, allowed)).toMatch(/^Invalid Host/);
    expect(rebindingRefusal({}, allowed)).toBe('Invalid Host header: (none)');
    expect(rebindingRefusal({ host: 'a b' }, allowed)).toMatch(/^Invalid Host/);
    expect(rebindingRefusal({ host: 'localhost', origin: 'http://evil.example.com' }, allowed)).toBe(
      'Invalid Origin header: http://evil.example.com',
    );
    expect(rebindingRefusal({ host: 'localhost', origin: 'null' }, allowed)).toBe('Invalid Origin header: null');
  });
});
