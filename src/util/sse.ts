/**
 * The data of each server-sent event in a response body, as the page and the benchmarks read OpenAI streams.
 * Events end at a blank line; one event's data may span several `data:` lines; CR LF and CR count as line ends;
 * an event the stream ends on without its blank line still counts. `[DONE]` is yielded like any other data.
 * Plain web streams only, so the browser bundle and Node share it.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  // Streamed decoding: a character split between two chunks is decoded once both have come.
  const decoder = new TextDecoder();
  let buf = '';
  for (let ended = false; !ended;) {
    const { value, done } = await reader.read();
    ended = done;
    buf += decoder.decode(value, { stream: !done }).replace(/\r\n?/g, '\n');
    let i;
    while ((i = buf.indexOf('\n\n')) >= 0 || (ended && buf.trim())) {
      const event = i >= 0 ? buf.slice(0, i) : buf;
      buf = i >= 0 ? buf.slice(i + 2) : '';
      const data = event.split('\n').filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
      if (data) yield data;
    }
  }
}
