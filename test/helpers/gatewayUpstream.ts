import { ApiServer } from '../../src/server/app.js';
import { gatewayRoutes } from '../../src/server/gateway/routes.js';
import { gatewayTranslatedRoutes } from '../../src/server/gateway/translated.js';
import type { BackendReply } from '../../src/server/gateway/types.js';
import { Gateway } from '../../src/server/gateway/upstream.js';

/** The real gateway, which also keeps every request it sends on (as sent), so a test can check the translation. */
export class RecordingGateway extends Gateway {
  readonly sent: Array<{ path: string; body: Record<string, unknown> }> = [];

  override post(path: string, body: Record<string, unknown>, signal: AbortSignal): Promise<BackendReply> {
    this.sent.push({ path, body });
    return super.post(path, body, signal);
  }
}

/** `serve --backend URL…` in this process: the real gateway and its routes, its backends checked once. */
export async function gatewayServer(backends: string[]): Promise<{ url: string; gateway: RecordingGateway; close(): Promise<void> }> {
  const gateway = new RecordingGateway({ backends, timeoutMs: 30_000, clientTimeoutMs: 30_000, healthIntervalMs: 60_000, parallel: 16, maxQueue: 16 });
  await gateway.start();
  const server = new ApiServer({ host: '127.0.0.1', port: 0, version: '0.0.0-gateway', routes: gatewayRoutes(gateway, gatewayTranslatedRoutes(gateway)), warn: (l) => console.error(l) });
  const url = await server.listen();
  return { url, gateway, close: async () => { gateway.stop(); await server.close(); } };
}
