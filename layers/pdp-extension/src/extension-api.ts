/** Minimal client of the Lambda Extensions API (2020-01-01). */
export interface ExtensionEvent {
  eventType: 'INVOKE' | 'SHUTDOWN';
  deadlineMs?: number;
  requestId?: string;
  shutdownReason?: string;
}

export class ExtensionsApi {
  private readonly base: string;
  private id: string | null = null;
  constructor(runtimeApi: string) {
    this.base = `http://${runtimeApi}/2020-01-01/extension`;
  }

  async register(name: string, events: readonly ('INVOKE' | 'SHUTDOWN')[]): Promise<string> {
    const r = await fetch(`${this.base}/register`, {
      method: 'POST',
      headers: { 'Lambda-Extension-Name': name, 'content-type': 'application/json' },
      body: JSON.stringify({ events }),
    });
    if (!r.ok) throw new Error(`register failed: ${r.status}`);
    const id = r.headers.get('lambda-extension-identifier');
    if (!id) throw new Error('register returned no extension identifier');
    this.id = id;
    return id;
  }

  /** Blocks until the next event; the first call also signals that INIT is done. */
  async next(): Promise<ExtensionEvent> {
    const r = await fetch(`${this.base}/event/next`, { headers: { 'Lambda-Extension-Identifier': this.id ?? '' } });
    if (!r.ok) throw new Error(`event/next failed: ${r.status}`);
    return (await r.json()) as ExtensionEvent;
  }

  async initError(errorType: string, message: string): Promise<void> {
    await fetch(`${this.base}/init/error`, {
      method: 'POST',
      headers: {
        'Lambda-Extension-Identifier': this.id ?? '',
        'Lambda-Extension-Function-Error-Type': errorType,
        'content-type': 'application/json',
      },
      body: JSON.stringify({ errorMessage: message, errorType }),
    }).catch(() => undefined);
  }
}
