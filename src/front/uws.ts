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
export const listenSocketPort: typeof Uws.us_socket_local_port = uws.us_socket_local_port;
