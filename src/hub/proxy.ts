import { EnvHttpProxyAgent, setGlobalDispatcher } from 'undici';

let done = false;

/**
 * Honour HTTPS_PROXY / HTTP_PROXY / NO_PROXY (either case) for hub traffic, as curl, pip and
 * huggingface_hub do: many users in China reach Hugging Face only through one. Node's own fetch
 * ignores these variables, so the proxy agent is installed as fetch's dispatcher when one is set.
 */
export function useProxyFromEnv(env: NodeJS.ProcessEnv = process.env) {
  if (done) return;
  done = true;
  const set = ['HTTPS_PROXY', 'https_proxy', 'HTTP_PROXY', 'http_proxy'].some((k) => env[k]);
  if (set) setGlobalDispatcher(new EnvHttpProxyAgent());
}
