/**
 * Node's and undici's network error codes in words a person reads: the gateway's view of a backend and the
 * chat client's view of a server say them alike.
 */
const WORDS: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ENOTFOUND: 'no such host',
  EAI_AGAIN: 'the host name did not resolve',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed',
  ETIMEDOUT: 'timed out',
  UND_ERR_CONNECT_TIMEOUT: 'timed out',
};

/** The words for `code`, or undefined for a code without any. */
export function networkWords(code: string | undefined): string | undefined {
  return code ? WORDS[code] : undefined;
}

/** Codes that mean the connection was never made (the other side is down or not there). */
export const NOT_CONNECTED = ['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH'];
