/** Prometheus text exposition of what the server has done; names follow vLLM's where they mean the same. */

export const TTFT_BUCKETS = [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const TPOT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];
const RATE_WINDOW_MS = 10_000;

export class Histogram {
  counts: number[];
  sum = 0;
  total = 0;
  constructor(readonly buckets: number[]) {
    this.counts = buckets.map(() => 0);
  }
  observe(v: number) {
    this.buckets.forEach((b, i) => { if (v <= b) this.counts[i]++; });
    this.sum += v;
    this.total++;
  }
  lines(name: string, help: string): string[] {
    return [
      `# HELP ${name} ${help}`,
      `# TYPE ${name} histogram`,
      ...this.buckets.map((b, i) => `${name}_bucket{le="${b}"} ${this.counts[i]}`),
      `${name}_bucket{le="+Inf"} ${this.total}`,
      `${name}_sum ${this.sum}`,
      `${name}_count ${this.total}`,
    ];
  }
}

export class Metrics {
  private requests = new Map<string, number>();
  promptTokens = 0;
  cachedPromptTokens = 0;
  generationTokens = 0;
  private ttft = new Histogram(TTFT_BUCKETS);
  private tpot = new Histogram(TPOT_BUCKETS);
  /** Times of recent generated tokens, for the current aggregate rate. */
  private recent: number[] = [];

  request(route: string, status: number) {
    const key = `route="${route}",status="${status}"`;
    this.requests.set(key, (this.requests.get(key) ?? 0) + 1);
  }

  token() {
    this.generationTokens++;
    const now = Date.now();
    this.recent.push(now);
    if (this.recent.length > 4096 || this.recent[0] < now - RATE_WINDOW_MS) this.recent = this.recent.filter((t) => t >= now - RATE_WINDOW_MS);
  }

  finished(o: { promptTokens: number; cachedTokens: number; ttftSeconds?: number; secondsPerToken?: number }) {
    this.promptTokens += o.promptTokens;
    this.cachedPromptTokens += o.cachedTokens;
    if (o.ttftSeconds !== undefined) this.ttft.observe(o.ttftSeconds);
    if (o.secondsPerToken !== undefined) this.tpot.observe(o.secondsPerToken);
  }

  /** Requests answered, by route and status: all the gateway (serve --backend) counts of these metrics. */
  requestLines(): string[] {
    return [
      '# HELP llama3zh_requests_total HTTP requests answered, by route and status.',
      '# TYPE llama3zh_requests_total counter',
      ...[...this.requests].map(([k, v]) => `llama3zh_requests_total{${k}} ${v}`),
    ];
  }

  render(gauges: { running: number; waiting: number; loading: boolean }): string {
    const now = Date.now();
    const rate = this.recent.filter((t) => t >= now - RATE_WINDOW_MS).length / (RATE_WINDOW_MS / 1000);
    const counter = (name: string, help: string, v: number) => [`# HELP ${name} ${help}`, `# TYPE ${name} counter`, `${name} ${v}`];
    const gauge = (name: string, help: string, v: number) => [`# HELP ${name} ${help}`, `# TYPE ${name} gauge`, `${name} ${v}`];
    return [
      ...this.requestLines(),
      ...counter('llama3zh_prompt_tokens_total', 'Prompt tokens of finished requests.', this.promptTokens),
      ...counter('llama3zh_prompt_tokens_cached_total', 'Prompt tokens whose KV cache was reused instead of evaluated.', this.cachedPromptTokens),
      ...counter('llama3zh_generation_tokens_total', 'Tokens generated.', this.generationTokens),
      ...gauge('llama3zh_requests_running', 'Sequences being decoded now.', gauges.running),
      ...gauge('llama3zh_requests_waiting', 'Requests waiting in the queue.', gauges.waiting),
      ...gauge('llama3zh_model_loading', '1 while the model is loading.', gauges.loading ? 1 : 0),
      ...gauge('llama3zh_generation_tokens_per_second', 'Tokens generated per second over the last 10 seconds, all requests together.', rate),
      // Where the memory is: all of it, V8's heap, and buffers outside the heap (what is left is llama.cpp's and malloc's).
      ...memoryGauges(gauge),
      ...this.ttft.lines('llama3zh_time_to_first_token_seconds', 'Time from request to its first generated token.'),
      ...this.tpot.lines('llama3zh_time_per_output_token_seconds', 'Mean time between tokens after the first, per request.'),
    ].join('\n') + '\n';
  }
}

export function memoryGauges(gauge: (name: string, help: string, v: number) => string[]): string[] {
  const m = process.memoryUsage();
  return [
    ...gauge('process_resident_memory_bytes', 'Resident memory of the server process.', m.rss),
    ...gauge('nodejs_heap_size_used_bytes', 'V8 heap in use.', m.heapUsed),
    ...gauge('nodejs_heap_size_total_bytes', 'V8 heap reserved.', m.heapTotal),
    ...gauge('nodejs_external_memory_bytes', 'Memory of JavaScript objects held outside the V8 heap (buffers).', m.external),
  ];
}
