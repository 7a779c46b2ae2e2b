import { gatewayRoutes } from '../../src/server/gateway/routes.js';
import { gatewayTranslatedRoutes } from '../../src/server/gateway/translated.js';
import { Gateway } from '../../src/server/gateway/upstream.js';
import { fuzzSuite } from '../helpers/fuzzSuite.js';
import { gatewayServer } from '../helpers/gatewayUpstream.js';
import { testServer } from '../helpers/server.js';

/** The same hostile requests through a gateway (serve --backend): it must hold the same rules as the server behind it. */
fuzzSuite(async () => {
  const backend = await testServer({ parallel: 4, maxQueue: 8, ctx: 256 });
  const gw = await gatewayServer([backend.url]);
  return { url: gw.url, close: async () => { await gw.close(); await backend.close(); } };
}, (() => {
  // The route table as serve --backend builds it (its handlers are never called here).
  const gw = new Gateway({ backends: ['http://127.0.0.1:1'], timeoutMs: 1, clientTimeoutMs: 1, healthIntervalMs: 1000, parallel: 1, maxQueue: 0 });
  return gatewayRoutes(gw, gatewayTranslatedRoutes(gw));
})());
