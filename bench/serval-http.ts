// A Serval server as a child process (serval-child.ts), a streaming HTTP client that times
// each content chunk (TTFT, inter-token gaps), and the same timing through an in-process
// engine: shared by bench/http.ts and bench/hops.ts.

import type { ChildProcess } from 'node:child_process';
import http from 'node:http';
import type { Engine } from '../src/engine/client/engine.js';
import { startServalChild } from './serval-child.js';
import type { BenchRequest } from './workload.js';

export interface RequestResult {
  ok: boolean;
  error?: string;
  ttftMs: number;
  itlMs: number[];
  outputTokens: number;
  endMs: number;
}

/** Streams completions (token-id prompts) or chat completions (text) from one server, timing each chunk. */
export class HttpTarget {
  readonly agent: http.Agent;
  constructor(
    readonly base: URL,
    readonly model: string,
    maxConnections: number,
    readonly endpoint: 'completions' | 'chat' = 'completions',
  ) {
    this.agent = new http.Agent({ keepAlive: true, maxSockets: maxConnections, maxFreeSockets: maxConnections });
  }

  body(r: BenchRequest): string {
    const common = { model: this.model, max_tokens: r.maxTokens, ignore_eos: true, temperature: 0, stream: true, stream_options: { include_usage: true } };
    if (this.endpoint === 'chat') {
      // Text prompts: one short word per prompt id; the server's token count will differ.
      const content = r.promptIds.map((id) => `w${id % 997}`).join(' ');
      return JSON.stringify({ ...common, messages: [{ role: 'user', content }] });
    }
    return JSON.stringify({ ...common, prompt: r.promptIds });
  }

  send(r: BenchRequest): Promise<RequestResult> {
    const path = `${this.base.pathname.replace(/\/$/, '')}/${this.endpoint === 'chat' ? 'chat/completions' : 'completions'}`;
    const payload = this.body(r);
    const sent = performance.now();
    return new Promise((resolve) => {
      let ttft = Number.NaN;
      let last = Number.NaN;
      const itl: number[] = [];
      let chunks = 0;
      let usageTokens: number | null = null;
      let buffer = '';
      let status = 0;
      let errorText = '';
      const done = (ok: boolean, error?: string): void =>
        resolve({ ok, error, ttftMs: ttft, itlMs: itl, outputTokens: usageTokens ?? chunks, endMs: performance.now() });
      const onEvent = (data: string): void => {
        if (data === '[DONE]') return;
        const now = performance.now();
        const event = JSON.parse(data) as {
          choices?: Array<{ text?: string; delta?: { role?: string; content?: string | null }; finish_reason?: string | null }>;
          usage?: { completion_tokens?: number } | null;
        };
        if (event.usage?.completion_tokens !== undefined) usageTokens = event.usage.completion_tokens;
        const choice = event.choices?.[0];
        if (!choice) return;
        // A content chunk carries a token's text; the chat role preamble and the finish chunk do not.
        const isContent = choice.text !== undefined ? choice.finish_reason == null : choice.delta?.content != null && !(choice.delta.role && choice.delta.content === '');
        if (!isContent) return;
        chunks++;
        if (Number.isNaN(ttft)) ttft = now - sent;
        else itl.push(now - last);
        last = now;
      };
      const req = http.request(
        { host: this.base.hostname.replace(/^\[|\]$/g, ''), port: this.base.port, path, method: 'POST', agent: this.agent, headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(payload) } },
        (res) => {
          status = res.statusCode ?? 0;
          res.setEncoding('utf8');
          res.on('data', (text: string) => {
            if (status !== 200) {
              errorText += text;
              return;
            }
            buffer += text;
            let cut: number;
            while ((cut = buffer.indexOf('\n\n')) >= 0) {
              const block = buffer.slice(0, cut);
              buffer = buffer.slice(cut + 2);
              for (const line of block.split('\n')) if (line.startsWith('data: ')) onEvent(line.slice(6));
            }
          });
          res.on('end', () => (status === 200 ? done(true) : done(false, `HTTP ${status}: ${errorText.slice(0, 300)}`)));
          res.on('error', (error) => done(false, error.message));
        },
      );
      req.on('error', (error) => done(false, error.message));
      req.end(payload);
    });
  }
}

export async function getJson(url: URL): Promise<{ status: number; body: unknown }> {
  const res = await fetch(url);
  const text = await res.text();
  let body: unknown = text;
  try {
    body = JSON.parse(text);
  } catch {
    // not JSON (e.g. a 503 page)
  }
  return { status: res.status, body };
}

export interface StartedServer {
  child: ChildProcess;
  base: URL;
}

/** Starts `serval serve` on a free loopback port with `flags` and waits for /health. */
export async function startServal(flags: string[], nodeArgs: string[] = []): Promise<StartedServer> {
  const { child, origin } = await startServalChild(flags, nodeArgs);
  return { child, base: new URL(`${origin}/v1`) };
}

/** The same request through an in-process engine (no HTTP), timed the same way. */
export async function engineSend(engine: Engine, r: BenchRequest): Promise<RequestResult> {
  const sent = performance.now();
  let ttft = Number.NaN;
  let last = Number.NaN;
  const itl: number[] = [];
  let tokens = 0;
  try {
    for await (const event of engine.generate(r.promptIds, { maxTokens: r.maxTokens, ignoreEos: true, temperature: 0 })) {
      if (event.type !== 'tokens') continue;
      const now = performance.now();
      if (Number.isNaN(ttft)) ttft = now - sent;
      else itl.push(now - last);
      last = now;
      tokens += event.tokenIds.length;
    }
    return { ok: true, ttftMs: ttft, itlMs: itl, outputTokens: tokens, endMs: performance.now() };
  } catch (error) {
    return { ok: false, error: String(error), ttftMs: ttft, itlMs: itl, outputTokens: tokens, endMs: performance.now() };
  }
}
