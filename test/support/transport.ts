// The HTTP transport the tests' servers run on: SERVAL_HTTP_TRANSPORT
// (auto | uws | node; default auto). `npm test` runs the HTTP test files a
// second time with node (see package.json test:node-http).

import { TRANSPORT_CHOICES, type TransportChoice } from '../../src/front/transport/select.js';

export function testTransport(): TransportChoice {
  const value = process.env.SERVAL_HTTP_TRANSPORT ?? 'auto';
  if (!(TRANSPORT_CHOICES as readonly string[]).includes(value)) throw new Error(`SERVAL_HTTP_TRANSPORT must be one of ${TRANSPORT_CHOICES.join(', ')}, got '${value}'`);
  return value as TransportChoice;
}
