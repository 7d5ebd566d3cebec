// --http-transport: uWebSockets.js where a build for this Node loads and the
// server listens on loopback only, node:http otherwise (its parser is the
// strict one: see uws.ts for what uWS's cannot refuse); or either on request.

import type { HttpTransport } from './transport.js';
import { nodeHttpTransport } from './node-http.js';
import { loadUws, uwsTransport } from './uws.js';

export const TRANSPORT_CHOICES = ['auto', 'uws', 'node'] as const;
export type TransportChoice = (typeof TRANSPORT_CHOICES)[number];

export interface SelectedTransport {
  transport: HttpTransport;
  /** Why this one, for the startup log line. */
  reason: string;
}

/** 127.0.0.0/8, ::1, localhost: only this machine's clients (and proxies) can connect. */
export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d+\.\d+\.\d+$/.test(host);
}

/** Throws when uWS was asked for and does not load. */
export function selectTransport(choice: TransportChoice, host = '127.0.0.1'): SelectedTransport {
  if (choice === 'node') return { transport: nodeHttpTransport, reason: 'requested' };
  if (choice === 'auto' && !isLoopback(host)) return { transport: nodeHttpTransport, reason: `auto: --host ${host} is reachable from other machines: the strict HTTP parser` };
  try {
    return { transport: uwsTransport(loadUws()), reason: choice === 'uws' ? 'requested' : `auto: a uWebSockets.js build loads on Node ${process.version}` };
  } catch (error) {
    const why = (error as Error).message;
    if (choice === 'uws') throw new Error(`--http-transport uws: ${why}`);
    return { transport: nodeHttpTransport, reason: `auto: ${why}` };
  }
}
