import { ApiServer, type ServerOptions } from '../app.js';
import type { Route } from '../context.js';
import { gatewayRoutes } from './routes.js';
import type { Upstream } from './types.js';
import { Gateway, type GatewayOptions } from './upstream.js';

export interface GatewayStartOptions extends Omit<ServerOptions, 'routes'>, GatewayOptions {
  /** The ollama and simple APIs over the backends (built by the caller from the Upstream). */
  translated?: (up: Upstream) => Route[];
}

export interface RunningGateway {
  server: ApiServer;
  gateway: Gateway;
  url: string;
  close(): Promise<void>;
}

/**
 * Listen, check every backend once (so the start-up lines can say what each is), then keep checking. A backend
 * that is not up yet does not stop the start: it is put in when it answers, as a restarted one is.
 */
export async function startGateway(o: GatewayStartOptions): Promise<RunningGateway> {
  const gateway = new Gateway(o);
  const server = new ApiServer({ ...o, routes: gatewayRoutes(gateway, o.translated?.(gateway)) });
  const url = await server.listen();
  await gateway.start();
  return {
    server, gateway, url,
    async close() {
      gateway.stop();
      await server.close();
    },
  };
}
