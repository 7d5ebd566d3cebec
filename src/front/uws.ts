// The only module that touches uWebSockets.js. It is a CommonJS native addon,
// so it is loaded with createRequire (this keeps the package's own types
// exact under NodeNext). Swapping the package (e.g. for upstream
// uNetworking/uWebSockets.js) means changing this file only.

import { createRequire } from 'node:module';
import type * as Uws from '@trufflesuite/uws-js-unofficial';

export type { HttpRequest, HttpResponse, us_listen_socket as ListenSocket } from '@trufflesuite/uws-js-unofficial';

/** The app plus `close()` (closes every socket; present in the binary, missing from the bundled .d.ts). */
export type UwsApp = Uws.TemplatedApp & { close(): void };

const uws = createRequire(import.meta.url)('@trufflesuite/uws-js-unofficial') as typeof Uws;

export function createApp(): UwsApp {
  return uws.App() as UwsApp;
}

export const closeListenSocket: typeof Uws.us_listen_socket_close = uws.us_listen_socket_close;

/** uWS's LIBUS_LISTEN_EXCLUSIVE_PORT: no SO_REUSEPORT. */
const EXCLUSIVE_PORT = 1;

/**
 * Listens without SO_REUSEPORT (uWS's default sets it), so a second server on
 * a port already in use fails instead of silently sharing its connections.
 * The binary takes (host, port, options, cb); the bundled .d.ts lacks that overload.
 */
export function listenExclusive(app: UwsApp, host: string, port: number, cb: (socket: Uws.us_listen_socket | false) => void): void {
  (app.listen as unknown as (host: string, port: number, options: number, cb: (socket: Uws.us_listen_socket | false) => void) => void)(host, port, EXCLUSIVE_PORT, cb);
}
export const listenSocketPort: typeof Uws.us_socket_local_port = uws.us_socket_local_port;
