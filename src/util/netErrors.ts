/**
 * Node's and undici's network error codes in words a person reads: the gateway's view of a backend and the
 * chat client's view of a server say them alike.
 */
const WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'the connection was reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name could not be looked up',
  EHOSTUNREACH: 'the host is unreachable',
  ENETUNREACH: 'the network is unreachable',
  EPIPE: 'the connection was closed',
  ETIMEDOUT: 'the connection timed out',
  // undici's (fetch) name for a connect that timed out.
  UND_ERR_CONNECT_TIMEOUT: 'the connection timed out',
};

/** The words for `code`, or undefined for a code without any. */
export function networkWords(code: string | undefined): string | undefined {
  return code ? WORDS[code] : undefined;
}

/** Codes that mean the connection was never made (the other side is down or not there). */
export const NOT_CONNECTED = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'];
