/**
 * The data of each server-sent event in a response body, as the page, the remote chat and the benchmarks read OpenAI
 * streams. Events end at a blank line; one event's data may span several `data:` lines; CR LF and CR count as line
 * ends (a CR LF split between two reads counts once); an event the stream ends on without its blank line still
 * counts. `[DONE]` is yielded like any other data. llama-server writes its errors as a field of its own,
 * `error: {…}`, not in `data:`; such an event is yielded as `{"error": {…}}`, the shape the others send.
 * Plain web streams only, so the browser bundle and Node share it.
 */
export async function* sseData(body: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const reader = body.getReader();
  // Streamed decoding: a character split between two chunks is decoded once both have come.
  const decoder = new TextDecoder();
  let buf = '';
  let cr = false;
  let ended = false;
  try {
    while (!ended) {
      const { value, done } = await reader.read();
      ended = done;
      let text = decoder.decode(value, { stream: !done });
      // A CR at the end of one read and an LF at the start of the next are one line end.
      if (cr && text.startsWith('\n')) text = text.slice(1);
      cr = text.endsWith('\r');
      buf += text.replace(/\r\n?/g, '\n');
      let i;
      while ((i = buf.indexOf('\n\n')) >= 0 || (ended && buf.trim())) {
        const event = i >= 0 ? buf.slice(0, i) : buf;
        buf = i >= 0 ? buf.slice(i + 2) : '';
        const lines = event.split('\n');
        const data = lines.filter((l) => l.startsWith('data:')).map((l) => l.slice(5).trimStart()).join('\n');
        const error = lines.filter((l) => l.startsWith('error:')).map((l) => l.slice(6).trimStart()).join('\n');
        if (data) yield data;
        else if (error) yield `{"error":${isJson(error) ? error : JSON.stringify(error)}}`;
      }
    }
  } finally {
    // A reader that stops early (an error event, the caller leaving the loop) lets the sender stop too.
    if (!ended) reader.cancel().catch(() => {});
  }
}

function isJson(s: string): boolean {
  try { JSON.parse(s); return true; } catch { return false; }
}
