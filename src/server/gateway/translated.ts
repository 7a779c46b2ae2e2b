import type { Route } from '../context.js';
import { gatewayOllamaRoutes } from './ollama.js';
import { gatewaySimpleRoutes } from './simple.js';
import type { Upstream } from './types.js';

/** The ollama and simple APIs over the backends' OpenAI API. */
export function gatewayTranslatedRoutes(up: Upstream): Route[] {
  return [...gatewayOllamaRoutes(up), ...gatewaySimpleRoutes(up)];
}
