// --http-transport: 'auto' picks uWebSockets.js exactly when its build for
// this Node loads (Node 20 here; not 22/24), 'uws' refuses to start without
// one, and the two transports answer the same requests with the same status
// lines, headers and bodies (the HTTP test files run on both; this checks
// them side by side in one process).

import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import path from 'node:path';
import t from 'tap';
import { selectTransport } from '../../src/front/transport/select.js';
import { CHAT_MODEL } from './fake-backend.js';
import { startHarness, type Harness } from './harness.js';

const uwsPackage = path.dirname(createRequire(import.meta.url).resolve('@trufflesuite/uws-js-unofficial/package.json'));
const uwsBuild = path.join(uwsPackage, 'binaries', `uws_${process.platform}_${process.arch}_${process.versions.modules}.node`);
const hasUwsBuild = existsSync(uwsBuild);

t.test(`auto picks ${hasUwsBuild ? 'uWebSockets.js' : 'node:http'} on Node ${process.version}`, async (t) => {
  const auto = selectTransport('auto');
  t.equal(auto.transport.name, hasUwsBuild ? 'uws' : 'node');
  t.match(auto.reason, hasUwsBuild ? /^auto: a uWebSockets\.js build loads on Node v\d+/ : /^auto: @trufflesuite\/uws-js-unofficial has no build for Node v\d+\.\d+\.\d+ \(ABI \d+, \w+-\w+\)$/);
  t.same(
    { name: selectTransport('node').transport.name, reason: selectTransport('node').reason },
    { name: 'node', reason: 'requested' },
  );
  for (const host of ['0.0.0.0', '::', '192.168.1.10']) {
    t.same(
      { name: selectTransport('auto', host).transport.name, reason: selectTransport('auto', host).reason },
      { name: 'node', reason: `auto: --host ${host} is reachable from other machines: the strict HTTP parser` },
      `auto on ${host}: node:http`,
    );
  }
  for (const host of ['127.0.0.1', '::1', 'localhost']) t.equal(selectTransport('auto', host).transport.name, hasUwsBuild ? 'uws' : 'node', `auto on ${host}`);
  if (hasUwsBuild) t.equal(selectTransport('uws').transport.name, 'uws');
  else t.throws(() => selectTransport('uws'), /^--http-transport uws: @trufflesuite\/uws-js-unofficial has no build for Node/);
});

/** Raw request → status line, the headers both transports must agree on, and the body. */
async function raw(port: number, request: string): Promise<{ status: string; headers: Record<string, string>; body: string }> {
  const sock = net.connect(port, '127.0.0.1');
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (data += d));
  sock.write(request);
  const headEnd = (): number => data.indexOf('\r\n\r\n');
  const complete = (): boolean => {
    if (headEnd() < 0) return false;
    const length = /\r\ncontent-length: *(\d+)/i.exec(data.slice(0, headEnd()));
    if (request.startsWith('HEAD') || /^HTTP\/1\.1 204/.test(data)) return true;
    if (length !== null) return Buffer.byteLength(data.slice(headEnd() + 4)) >= Number(length[1]);
    return data.endsWith('\r\n0\r\n\r\n');
  };
  for (let i = 0; i < 300 && !complete(); i++) await new Promise((r) => setTimeout(r, 10));
  sock.destroy();
  const [statusLine, ...lines] = data.slice(0, headEnd()).split('\r\n');
  const headers: Record<string, string> = {};
  for (const line of lines) {
    const name = line.slice(0, line.indexOf(':')).toLowerCase();
    // Transport-specific: Date, Connection/Keep-Alive, uWS's own banner header.
    if (['content-type', 'content-length', 'transfer-encoding', 'cache-control', 'allow', 'retry-after'].includes(name) || name.startsWith('access-control-')) {
      headers[name] = line.slice(line.indexOf(':') + 1).trim();
    }
  }
  return { status: statusLine, headers, body: data.slice(headEnd() + 4) };
}

t.test('uWebSockets.js and node:http give the same answers', { skip: hasUwsBuild ? false : 'no uWebSockets.js build for this Node' }, async (t) => {
  const servers: Harness[] = [];
  for (const transport of ['uws', 'node'] as const) servers.push(await startHarness({ transport, corsOrigin: '*', apiKey: 'k' }));
  t.teardown(() => Promise.all(servers.map((s) => s.server.close())));
  const chat = JSON.stringify({ model: CHAT_MODEL, messages: [{ role: 'user', content: 'hi' }], stream: true });
  const auth = 'Authorization: Bearer k\r\n';
  const requests = [
    'GET /health HTTP/1.1\r\nHost: x\r\n\r\n',
    'HEAD /health HTTP/1.1\r\nHost: x\r\n\r\n',
    `GET /v1/models?x=1 HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    'GET /v1/models HTTP/1.1\r\nHost: x\r\n\r\n',
    `GET /nope HTTP/1.1\r\nHost: x\r\n\r\n`,
    `DELETE /v1/models HTTP/1.1\r\nHost: x\r\n${auth}\r\n`,
    'OPTIONS /v1/chat/completions HTTP/1.1\r\nHost: x\r\nOrigin: https://a.example\r\n\r\n',
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: text/plain\r\nContent-Length: 2\r\n\r\nhi`,
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 5\r\n\r\n{"a":`,
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: 9999999\r\n\r\n`,
    `POST /v1/chat/completions HTTP/1.1\r\nHost: x\r\n${auth}Content-Type: application/json\r\nContent-Length: ${chat.length}\r\n\r\n${chat}`,
  ];
  for (const request of requests) {
    const [uws, node] = await Promise.all(servers.map((s) => raw(s.server.port, request)));
    // Streamed chunk ids and timestamps differ per request: compare the frames' shape.
    const shape = (body: string): string => body.replace(/"id":"[^"]+"/g, '"id":_').replace(/"created":\d+/g, '"created":_').replace(/\r\n[0-9a-f]+\r\n/g, '\r\n#\r\n');
    t.same({ ...node, body: shape(node.body) }, { ...uws, body: shape(uws.body) }, request.split('\r\n')[0]);
  }
});
