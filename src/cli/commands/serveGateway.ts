import { UserError } from '../../errors.js';
import { backendRoot } from '../../server/gateway/backend.js';
import { startGateway } from '../../server/gateway/start.js';
import { gatewayTranslatedRoutes } from '../../server/gateway/translated.js';
import { headerSafe } from '../apiKey.js';
import { num } from '../flags.js';

export const GATEWAY_HELP = `Gateway (no local model: every API above is answered by the backends):
  --backend URL             an OpenAI-compatible engine to send requests to: vLLM, llama.cpp's
                            llama-server, SGLang, another llama3-zh serve (http://host:port, with
                            or without /v1); repeatable, or comma-separated. Models come from each
                            backend's /v1/models; a request goes to a backend that has its model
  --backend-key KEY         sent to every backend as "Authorization: Bearer KEY"
                            (default: env LLAMA3_ZH_BACKEND_KEY)
  --backend-timeout S       seconds a backend may send nothing (before its answer, or mid-stream)
                            before it counts as failed (default 300)
  --client-timeout S        seconds a client may take nothing of a stream before it is cut off, so a
                            stalled one holds no slot (default 60, as nginx's send_timeout)
  --health-interval S       seconds between health checks of each backend (default 5)
  --parallel N              requests in flight per backend (default 64); --max-queue N more wait
                            in the gateway, and past those, 429`;

/** Flags that mean a local model, which a gateway does not have. */
const GATEWAY_FLAGS = new Set(['host', 'port', 'api-key', 'cors-origins', 'quiet', 'train-dir', 'parallel', 'max-queue', 'backend', 'backend-key', 'backend-timeout', 'client-timeout', 'health-interval', 'help']);

/** `serve --backend URL…`: listen, check the backends, serve until Ctrl-C. */
export async function serveGateway(values: Record<string, unknown>, positionals: string[], version: string): Promise<void> {
  if (positionals.length) throw new UserError(`serve --backend takes no MODEL (got ${positionals.join(' ')}): the backends serve the models`, 2);
  const local = Object.keys(values).filter((k) => !GATEWAY_FLAGS.has(k) && values[k] !== undefined);
  if (local.length) throw new UserError(`--${local[0]} is for a local model; with --backend the backends serve the models: drop it, or set it on the backends`, 2);
  const urls = (values.backend as string[]).flatMap((s) => s.split(',')).map((s) => s.trim()).filter(Boolean);
  if (!urls.length) throw new UserError('--backend takes a URL, e.g. --backend http://127.0.0.1:8000', 2);
  urls.forEach(backendRoot);
  const backendKey = (values['backend-key'] as string | undefined) ?? process.env.LLAMA3_ZH_BACKEND_KEY;
  const apiKey = (values['api-key'] as string | undefined) ?? process.env.LLAMA3_ZH_API_KEY;
  if (apiKey !== undefined && !apiKey.trim()) throw new UserError('the API key is empty; pass --api-key KEY or unset LLAMA3_ZH_API_KEY', 2);
  if (backendKey !== undefined && !backendKey.trim()) throw new UserError('the backend key is empty; pass --backend-key KEY or unset LLAMA3_ZH_BACKEND_KEY', 2);
  if (backendKey !== undefined) headerSafe(backendKey, values['backend-key'] !== undefined ? '--backend-key' : 'LLAMA3_ZH_BACKEND_KEY');
  const quiet = (values.quiet as boolean | undefined) ?? false;
  const running = await startGateway({
    host: (values.host as string | undefined) ?? '127.0.0.1',
    port: num('--port', values.port as string | undefined, { int: true, min: 0, max: 65535 }) ?? 8000,
    apiKey,
    corsOrigins: (values['cors-origins'] as string | undefined)?.split(',').map((s) => s.trim()).filter(Boolean),
    trainDirs: values['train-dir'] as string[] | undefined,
    version,
    log: quiet ? undefined : (line) => console.error(line),
    warn: (line) => console.error(line),
    backends: urls,
    backendKey,
    timeoutMs: 1000 * (num('--backend-timeout', values['backend-timeout'] as string | undefined, { min: 0.001, max: 86_400 }) ?? 300),
    clientTimeoutMs: 1000 * (num('--client-timeout', values['client-timeout'] as string | undefined, { min: 0.001, max: 86_400 }) ?? 60),
    healthIntervalMs: 1000 * (num('--health-interval', values['health-interval'] as string | undefined, { min: 0.05, max: 3600 }) ?? 5),
    parallel: num('--parallel', values.parallel as string | undefined, { int: true, min: 1, max: 100_000 }) ?? 64,
    maxQueue: num('--max-queue', values['max-queue'] as string | undefined, { int: true, min: 0 }) ?? 64,
    translated: gatewayTranslatedRoutes,
    // A backend's state changes are news even with --quiet.
    onBackend: (line: string) => console.error(line),
  });
  const { gateway, url } = running;
  const up = gateway.backends.filter((b) => b.up).length;
  console.error(
    `llama3-zh serve: gateway on ${url} — ${up} of ${gateway.backends.length} backends up` +
    `${gateway.models().length ? `, models: ${gateway.models().map((m) => m.id).join(', ')}` : ''}${apiKey ? '; API key required' : ''}\n` +
    gateway.backends.map((b) => `  ${b.url}: ${b.state}${b.up ? ` (${b.models.map((m) => m.id).join(', ') || 'no models'})` : b.problem ? ` — ${b.problem}` : ''}`).join('\n') + '\n' +
    `  chat page: ${url}/   OpenAI: ${url}/v1   ollama: ${url}/api   simple: POST ${url}/   health: ${url}/health   Ctrl-C stops`,
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  console.error('llama3-zh serve: stopping');
  await running.close();
}
