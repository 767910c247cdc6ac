import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A stand-in for the Lambda Extensions API: accepts register, hands out events on
 * `event/next` when the test sends them, and reports when INIT finished (the first `next`).
 */
export class FakeExtensionsApi {
  private server!: Server;
  registered: { name: string; events: string[] } | null = null;
  initErrors: string[] = [];
  private waiting: ServerResponse[] = [];
  private pending: unknown[] = [];
  private initDoneResolve!: () => void;
  readonly initDone = new Promise<void>((r) => (this.initDoneResolve = r));
  nextCalls = 0;

  async start(): Promise<string> {
    this.server = createServer((req, res) => {
      let body = '';
      req.on('data', (c) => (body += c));
      req.on('end', () => {
        const url = req.url ?? '';
        if (req.method === 'POST' && url.endsWith('/extension/register')) {
          this.registered = { name: String(req.headers['lambda-extension-name']), events: JSON.parse(body).events };
          res.writeHead(200, { 'lambda-extension-identifier': 'ext-123', 'content-type': 'application/json' });
          res.end(JSON.stringify({ functionName: 'fn', functionVersion: '$LATEST', handler: 'index.handler' }));
          return;
        }
        if (req.method === 'GET' && url.endsWith('/extension/event/next')) {
          if (req.headers['lambda-extension-identifier'] !== 'ext-123') {
            res.writeHead(403).end();
            return;
          }
          this.nextCalls++;
          this.initDoneResolve();
          const ev = this.pending.shift();
          if (ev) this.reply(res, ev);
          else this.waiting.push(res);
          return;
        }
        if (req.method === 'POST' && url.endsWith('/extension/init/error')) {
          this.initErrors.push(body);
          res.writeHead(202).end();
          return;
        }
        res.writeHead(404).end();
      });
    });
    await new Promise<void>((r) => this.server.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  send(ev: { eventType: 'INVOKE' | 'SHUTDOWN'; [k: string]: unknown }): void {
    const w = this.waiting.shift();
    if (w) this.reply(w, ev);
    else this.pending.push(ev);
  }

  private reply(res: ServerResponse, ev: unknown): void {
    res.writeHead(200, { 'content-type': 'application/json', 'lambda-extension-event-identifier': 'ev-1' });
    res.end(JSON.stringify(ev));
  }

  async stop(): Promise<void> {
    for (const w of this.waiting) w.destroy();
    this.server.closeAllConnections();
    await new Promise<void>((r) => this.server.close(() => r()));
  }
}
