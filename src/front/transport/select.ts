// --http-transport: uWebSockets.js where a build for this Node loads (the
// faster front), node:http where none does; or either one on request.

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

/** Throws when uWS was asked for and does not load. */
export function selectTransport(choice: TransportChoice): SelectedTransport {
  if (choice === 'node') return { transport: nodeHttpTransport, reason: 'requested' };
  try {
    return { transport: uwsTransport(loadUws()), reason: choice === 'uws' ? 'requested' : `auto: a uWebSockets.js build loads on Node ${process.version}` };
  } catch (error) {
    const why = (error as Error).message;
    if (choice === 'uws') throw new Error(`--http-transport uws: ${why}`);
    return { transport: nodeHttpTransport, reason: `auto: ${why}` };
  }
}
