import { isIP } from 'node:net';

/**
 * Names that mean this machine's loopback: localhost, an IPv4 literal in 127.0.0.0/8, or ::1. A DNS name
 * that merely starts with "127." (127.evil.example, 127.0.0.1.nip.io) is anyone's name, so only real IP
 * literals count: that is what keeps a page whose name was rebound to 127.0.0.1 out.
 */
export function isLoopbackName(name: string): boolean {
  const n = name.toLowerCase().replace(/^\[(.*)\]$/, '$1');
  if (n === 'localhost') return true;
  if (isIP(n) === 4) return n.startsWith('127.');
  if (isIP(n) === 6) return n === '::1' || n === '0:0:0:0:0:0:0:1';
  return false;
}

/**
 * The name in a Host header ("localhost:8000" → "localhost", "[::1]:8000" → "::1"), or undefined when it is
 * not a host name with an optional port (a Host header is whatever the client typed).
 */
export function hostName(header: string): string | undefined {
  const m = /^(\[[0-9a-fA-F:.]+\]|[^:[\]/@\s]+)(?::\d{1,5})?$/.exec(header);
  return m ? m[1].replace(/^\[(.*)\]$/, '$1') : undefined;
}

/** The host name of an Origin header ("http://localhost:5173" → "localhost"), or undefined when it is not a URL. */
export function originName(origin: string): string | undefined {
  try {
    return new URL(origin).hostname.replace(/^\[(.*)\]$/, '$1');
  } catch {
    return undefined;
  }
}
