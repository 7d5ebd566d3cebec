// A scripted GenerationBackend for testing the HTTP layer end to end without
// an engine. It follows the contract in src/front/backend.ts: deltas (and
// tool-call deltas), one finish per choice, one usage event, AbortSignal honoured.

import type {
  EmbeddingResult,
  GenerationBackend,
  GenerationEvent,
  ModelEntry,
  TextTokenLogprob,
  ToolCall,
  ValidatedChatRequest,
  ValidatedCompletionRequest,
  ValidatedEmbeddingRequest,
} from '../../src/front/backend.js';

export const CHAT_MODEL = 'acme/tiny-chat';
export const EMBED_MODEL = 'acme/tiny-embed';
/** The scripted reply, token by token. */
export const REPLY_PIECES = ['Hello', ',', ' world', '!'];

export type Script = (req: ValidatedChatRequest | ValidatedCompletionRequest) => GenerationEvent[];

export class FakeBackend implements GenerationBackend {
  isReady = true;
  /** Overrides the default script for the next generation requests. */
  script: Script | null = null;
  /** ms to wait between events (0 = yield to the event loop only). */
  delayMs = 0;
  /** Never finish: emit deltas until aborted (for abort tests). */
  endless = false;
  /** While set, generations wait for it before their first event (a test holds them running for as long as it needs). */
  gate: Promise<void> | null = null;
  /** Throw this synchronously from chat()/complete(). */
  throwOnStart: unknown = null;
  lastChat: ValidatedChatRequest | null = null;
  lastCompletion: ValidatedCompletionRequest | null = null;
  lastEmbedding: ValidatedEmbeddingRequest | null = null;
  /** Events handed to the server so far (all generations). */
  pulled = 0;
  /** Signals of every generation started, in order. */
  signals: AbortSignal[] = [];
  /** Resolves when a generation observed its abort signal and stopped. */
  aborted: Promise<void>;
  private resolveAborted!: () => void;

  constructor(private readonly list: ModelEntry[] = defaultModels()) {
    this.aborted = new Promise((r) => (this.resolveAborted = r));
  }

  models(): ModelEntry[] {
    return this.list;
  }

  ready(): boolean {
    return this.isReady;
  }

  chat(req: ValidatedChatRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    this.lastChat = req;
    if (this.throwOnStart !== null) throw this.throwOnStart;
    return this.run(this.script?.(req) ?? scriptFor(req.sampling.n, req.sampling.maxTokens, req.sampling.logprobs), signal);
  }

  complete(req: ValidatedCompletionRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    this.lastCompletion = req;
    if (this.throwOnStart !== null) throw this.throwOnStart;
    if (this.script !== null) return this.run(this.script(req), signal);
    const events: GenerationEvent[] = [];
    const n = req.sampling.n;
    let completion = 0;
    req.prompts.forEach((p, pi) => {
      for (let s = 0; s < n; s++) {
        const choiceIndex = pi * n + s;
        if (req.echo) events.push({ type: 'delta', choiceIndex, text: p.type === 'text' ? p.text : p.ids.join(' ') });
        events.push({ type: 'delta', choiceIndex, text: ` answer ${pi}.${s}` });
        events.push({ type: 'finish', choiceIndex, finishReason: 'length' });
        completion += 2;
      }
    });
    events.push({ type: 'usage', promptTokens: 3 * req.prompts.length, completionTokens: completion });
    return this.run(events, signal);
  }

  async embed(req: ValidatedEmbeddingRequest): Promise<EmbeddingResult> {
    this.lastEmbedding = req;
    const dims = req.dimensions ?? 4;
    return {
      embeddings: req.inputs.map((_, i) => Float32Array.from({ length: dims }, (_v, j) => i + j / 4)),
      promptTokens: req.inputs.length * 2,
    };
  }

  private async *run(events: GenerationEvent[], signal: AbortSignal): AsyncGenerator<GenerationEvent> {
    this.signals.push(signal);
    const pause = (): Promise<void> => new Promise((r) => (this.delayMs > 0 ? setTimeout(r, this.delayMs) : setImmediate(r)));
    try {
      if (this.gate !== null) await this.gate;
      if (this.endless) {
        for (let i = 0; ; i++) {
          await pause();
          if (signal.aborted) return;
          yield { type: 'delta', choiceIndex: 0, text: `tok${i} ` };
        }
      }
      for (const ev of events) {
        await pause();
        if (signal.aborted) return;
        this.pulled++;
        yield ev;
      }
    } finally {
      if (signal.aborted) this.resolveAborted();
    }
  }
}

export function defaultModels(): ModelEntry[] {
  return [
    { id: CHAT_MODEL, kind: 'chat', created: 1700000000, ownedBy: 'serval', maxModelLen: 2048 },
    { id: EMBED_MODEL, kind: 'embedding', created: 1700000001, ownedBy: 'serval', maxModelLen: 512 },
  ];
}

function logprobFor(piece: string, k: number, textOffset: number): TextTokenLogprob {
  return {
    token: piece,
    logprob: -0.5,
    bytes: [...Buffer.from(piece, 'utf8')],
    textOffset,
    top: Array.from({ length: k }, (_, j) => ({ token: `${piece}#${j}`, logprob: -1 - j, bytes: null })),
  };
}

/** n choices of REPLY_PIECES (truncated to maxTokens → 'length'), then usage. */
export function scriptFor(n: number, maxTokens: number | null, logprobs: number | null): GenerationEvent[] {
  const events: GenerationEvent[] = [];
  const pieces = maxTokens === null ? REPLY_PIECES : REPLY_PIECES.slice(0, maxTokens);
  let offset = 0;
  for (const piece of pieces) {
    for (let c = 0; c < n; c++) {
      events.push({ type: 'delta', choiceIndex: c, text: piece, ...(logprobs === null ? {} : { logprobs: [logprobFor(piece, logprobs, offset)] }) });
    }
    offset += piece.length;
  }
  for (let c = 0; c < n; c++) {
    events.push({ type: 'finish', choiceIndex: c, finishReason: pieces.length < REPLY_PIECES.length ? 'length' : 'stop' });
  }
  events.push({ type: 'usage', promptTokens: 7, completionTokens: pieces.length * n });
  return events;
}

/**
 * The tool_call_delta events a backend emits for `call` as the `index`-th call
 * of a choice: the header (id, type, name, arguments ''), then the arguments
 * in fragments of `size` characters.
 */
export function toolCallEvents(choiceIndex: number, index: number, call: ToolCall, size = 4): GenerationEvent[] {
  const events: GenerationEvent[] = [
    { type: 'tool_call_delta', choiceIndex, delta: { index, id: call.id, type: 'function', function: { name: call.function.name, arguments: '' } } },
  ];
  for (let at = 0; at < call.function.arguments.length; at += size) {
    events.push({ type: 'tool_call_delta', choiceIndex, delta: { index, function: { arguments: call.function.arguments.slice(at, at + size) } } });
  }
  return events;
}
