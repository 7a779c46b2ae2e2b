import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Metrics } from './metrics.js';
import type { ModelRegistry } from './models.js';

/** Which API a route belongs to: it decides the shape of its error bodies. */
export type Family = 'openai' | 'ollama' | 'simple' | 'system';

/** What a route handler gets. */
export interface Ctx {
  req: IncomingMessage;
  res: ServerResponse;
  url: URL;
  models: ModelRegistry;
  metrics: Metrics;
  /** The parsed JSON body (400 / 413 on a bad one). */
  body(): Promise<Record<string, unknown>>;
  version: string;
  /** True while the model loads; `models` then answers 503. */
  loading: boolean;
}

export interface Route {
  method: 'GET' | 'POST' | 'HEAD';
  path: string;
  family: Family;
  /** Served without the API key (health checks). */
  public?: boolean;
  /** Answered while the model is still loading (they do not need it). */
  whileLoading?: boolean;
  /** `path` is a folder ("/web/models/"): the route answers every path under it. */
  prefix?: boolean;
  handler(c: Ctx): Promise<void>;
}
