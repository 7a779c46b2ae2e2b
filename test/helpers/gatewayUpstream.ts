import { ApiServer } from '../../src/server/app.js';
import type { Route } from '../../src/server/context.js';
import { ApiError } from '../../src/server/http.js';
import type { BackendReply, Upstream, UpstreamModel } from '../../src/server/gateway/types.js';

/**
 * The least Upstream that goes to real backends (src/server/gateway/types.ts): each request to the first backend
 * that lists its model, or to the first backend at all (so that a model none has gets that backend's own 404);
 * no health checks, no retries. The gateway's route tests run on it, apart from the lead's upstream.ts.
 */
export class DirectUpstream implements Upstream {
  private listed: UpstreamModel[] = [];
  /** Every request sent, in order, as sent. */
  readonly sent: Array<{ path: string; body: Record<string, unknown> }> = [];

  private constructor(readonly backends: string[]) {}

  static async over(...backends: string[]): Promise<DirectUpstream> {
    const up = new DirectUpstream(backends);
    for (const url of backends) {
      const list = await (await fetch(`${url}/v1/models`)).json() as { data: Array<{ id: string; max_model_len?: number; created?: number; owned_by?: string }> };
      for (const m of list.data) {
        const known = up.listed.find((x) => x.id === m.id);
        if (known) known.backends.push(url);
        else up.listed.push({ id: m.id, backends: [url], maxModelLen: m.max_model_len, created: m.created, ownedBy: m.owned_by });
      }
    }
    return up;
  }

  models(): UpstreamModel[] {
    return this.listed;
  }

  defaultModel(): string | undefined {
    return this.listed[0]?.id;
  }

  async post(path: string, body: Record<string, unknown>, signal: AbortSignal): Promise<BackendReply> {
    this.sent.push({ path, body });
    const backend = this.listed.find((m) => m.id === body.model)?.backends[0] ?? this.backends[0];
    const failed = (e: unknown) => (signal.aborted ? e : new ApiError(502, `the backend ${backend} failed: ${(e as Error).message}`, 'server_error'));
    let res: Response;
    try {
      res = await fetch(`${backend}${path}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body), signal });
    } catch (e) {
      throw failed(e);
    }
    const reader = res.body!.getReader();
    // As types.ts says: a read that fails rejects with an ApiError, and a reply that is not streamed comes whole.
    let stream = new ReadableStream<Uint8Array>({
      async pull(controller) {
        try {
          const { done, value } = await reader.read();
          if (done) controller.close();
          else controller.enqueue(value);
        } catch (e) {
          controller.error(failed(e));
        }
      },
      cancel: (why) => reader.cancel(why),
    });
    if (body.stream !== true) {
      const whole = new Uint8Array(await new Response(stream).arrayBuffer());
      stream = new ReadableStream({ start(c) { c.enqueue(whole); c.close(); } });
    }
    return { backend, status: res.status, headers: res.headers, body: stream };
  }
}

/** An ApiServer with `routes` only and no local model, as `serve --backend` runs one. */
export async function gatewayServer(routes: Route[]): Promise<{ url: string; close(): Promise<void> }> {
  const server = new ApiServer({ host: '127.0.0.1', port: 0, version: '0.0.0-gateway', routes, warn: (l) => console.error(l) });
  const url = await server.listen();
  return { url, close: () => server.close() };
}
