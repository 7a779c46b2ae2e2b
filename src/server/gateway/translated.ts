import type { Route } from '../context.js';
import type { Upstream } from './types.js';

/** The ollama and simple APIs over the backends' OpenAI API. */
export function gatewayTranslatedRoutes(_up: Upstream): Route[] {
  return [];
}
