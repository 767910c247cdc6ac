import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../../cli/commands/mcp-gateway.js';

describe('arx mcp-gateway: bad invocations exit 2 with a message and start nothing', () => {
  let err: string;
  const saved = { ...process.env };
  beforeEach(() => {
    err = '';
    vi.spyOn(process.stderr, 'write').mockImplementation((s: string | Uint8Array) => {
      err += String(s);
      return true;
    });
    process.env.ARX_URL = 'http://127.0.0.1:9';
    process.env.ARX_AGENT_TOKEN = 'x.y.z';
    delete process.env.ARX_BOOTSTRAP_TOKEN;
  });
  afterEach(() => {
    vi.restoreAllMocks();
    process.env = { ...saved };
  });

  it.each([
    [['--upstream-cmd', 'x'], /--connector is required/],
    [['--connector', 'm-mcp'], /exactly one of --upstream-cmd and --upstream-url/],
    [['--connector', 'm-mcp', '--upstream-cmd', 'x', '--upstream-url', 'http://a'], /exactly one/],
    [['--connector', 'm-mcp', '--upstream-url', 'not a url'], /not a URL/],
    [['--connector', 'm-mcp', '--upstream-cmd', 'x', '--listen', 'nope'], /host:port/],
    [['--connector', 'm-mcp', '--upstream-cmd', 'x', '--hold', 'abc'], /--hold is seconds/],
    [['--connector', 'm-mcp', '--upstream-cmd', 'x', '--upstream-env', 'NOEQUALS'], /KEY=VALUE/],
    [['--connector', 'Bad Name', '--upstream-cmd', 'x'], /invalid connector name/],
    [['--connector', 'm-mcp', '--bogus'], /Unknown option/],
  ])('%j', async (args, message) => {
    expect(await run(args)).toBe(2);
    expect(err).toMatch(message);
  });

  it('needs ARX_URL and an agent credential', async () => {
    delete process.env.ARX_URL;
    expect(await run(['--connector', 'm-mcp', '--upstream-cmd', 'x'])).toBe(2);
    expect(err).toMatch(/ARX_URL/);
    process.env.ARX_URL = 'http://127.0.0.1:9';
    delete process.env.ARX_AGENT_TOKEN;
    expect(await run(['--connector', 'm-mcp', '--upstream-cmd', 'x'])).toBe(2);
    expect(err).toMatch(/ARX_AGENT_TOKEN/);
  });
});
