// `serval serve` flags: one table drives parsing, defaults and --help, so the
// help text can never drift from what is accepted.

import { parseArgs } from 'node:util';
import os from 'node:os';
import { parseDevices } from '../engine/config.js';
import { TRANSPORT_CHOICES, type TransportChoice } from '../front/transport/select.js';

export interface ServeOptions {
  model: string | null;
  ggufFile: string | null;
  embeddingModel: string | null;
  embeddingModelName: string | null;
  embeddingWorkers: number;
  embeddingThreads: number | null;
  embeddingBatchWindowMs: number;
  embeddingMaxBatch: number;
  embeddingMaxBatchTokens: number;
  rerankModel: string | null;
  rerankModelName: string | null;
  maxEmbeddingInputs: number;
  embeddingTokenBudget: number;
  embeddingMaxQueue: number;
  host: string;
  port: number;
  httpTransport: TransportChoice;
  servedModelName: string | null;
  workers: number;
  device: string;
  threads: number | null;
  maxBatchSize: number;
  maxBatchTokens: number;
  maxPrefillWithDecode: number | null;
  maxModelLen: number | null;
  kvCacheTokens: number | null;
  quantize: 'int4' | null;
  pipelineDepth: number | null;
  prefixCaching: boolean;
  schedulingPolicy: 'fcfs' | 'priority';
  /** null: on with one CPU worker, off with several. */
  spinning: 'on' | 'off' | null;
  maxBodyBytes: number;
  maxQueue: number;
  maxConcurrency: number | null;
  requestTimeout: number;
  bodyTimeout: number;
  shutdownTimeout: number;
  apiKey: string | null;
  apiKeyFile: string | null;
  authScope: 'v1' | 'all';
  allowedOrigins: string;
  maxN: number;
  maxPrompts: number;
  grammarCompileQueue: number;
  logLevel: string;
  /** null = pretty on a terminal, json otherwise. */
  logFormat: 'json' | 'pretty' | null;
  streamStallTimeout: number;
}

interface FlagSpec {
  name: string;
  key: keyof ServeOptions;
  /** 'switch': takes no value; present, it sets the option to false (a --no-… flag). */
  type: 'string' | 'int' | 'seconds' | 'choice' | 'switch';
  choices?: string[];
  /** int flags: the accepted range (default 0 to unbounded). */
  min?: number;
  max?: number;
  placeholder: string;
  help: string;
}

const FLAGS: FlagSpec[] = [
  { name: 'model', key: 'model', type: 'string', placeholder: 'DIR|ID', help: "Model to serve for chat/completions: a Hugging Face model folder, a .gguf file, or a Hub id ORG/NAME[@REVISION] (a GGUF repo: ORG/REPO[:QUANT], e.g. :Q4_K_M) downloaded into the Hugging Face cache (HF_HOME, HF_TOKEN, HF_ENDPOINT, HF_HUB_OFFLINE apply) (default: the built-in small chat model, generated into the cache on first use; 'none' serves embeddings only)." },
  { name: 'gguf-file', key: 'ggufFile', type: 'string', placeholder: 'NAME', help: 'With a Hub id in --model: the GGUF file of the repo to download and serve (instead of picking one by :QUANT).' },
  { name: 'embedding-model', key: 'embeddingModel', type: 'string', placeholder: 'DIR|ID', help: "sentence-transformers folder or Hub id ORG/NAME[@REVISION] (safetensors, or an ONNX export) served on /v1/embeddings (default: the built-in tiny encoder 'serval-tiny-embed' when --model is not given or is 'none'; 'none' disables)." },
  { name: 'embedding-model-name', key: 'embeddingModelName', type: 'string', placeholder: 'NAME', help: 'Model id of the embedding model in /v1/models and requests (default: the folder name).' },
  { name: 'embedding-workers', key: 'embeddingWorkers', type: 'int', min: 1, placeholder: 'N', help: 'Encoder worker threads, each with its own ORT session (default 1).' },
  { name: 'embedding-threads', key: 'embeddingThreads', type: 'int', min: 1, placeholder: 'N', help: 'Intra-op threads per encoder worker (default: cores / embedding workers, at least 1).' },
  { name: 'embedding-batch-window-ms', key: 'embeddingBatchWindowMs', type: 'int', placeholder: 'MS', help: 'How long an embedding input may wait for inputs of other requests to share its forward pass (default 2; 0 = no wait).' },
  { name: 'embedding-max-batch', key: 'embeddingMaxBatch', type: 'int', min: 1, placeholder: 'N', help: 'Most inputs in one encoder forward pass (default 64).' },
  { name: 'embedding-max-batch-tokens', key: 'embeddingMaxBatchTokens', type: 'int', min: 1, placeholder: 'N', help: 'Most padded positions (inputs x longest input) in one encoder forward pass (default 8192).' },
  { name: 'rerank-model', key: 'rerankModel', type: 'string', placeholder: 'DIR', help: 'Cross-encoder folder (one-label BertForSequenceClassification / XLMRobertaForSequenceClassification, e.g. bge-reranker, ms-marco-MiniLM) served on /v1/rerank, /rerank and /v1/score, beside the other models (default: none). Uses the --embedding-* worker and batch settings.' },
  { name: 'rerank-model-name', key: 'rerankModelName', type: 'string', placeholder: 'NAME', help: 'Model id of the rerank model in /v1/models and requests (default: the folder name).' },
  { name: 'max-embedding-inputs', key: 'maxEmbeddingInputs', type: 'int', min: 1, placeholder: 'N', help: "Most inputs in one /v1/embeddings request, else 400 on 'input' (default 2048, OpenAI's limit)." },
  { name: 'embedding-token-budget', key: 'embeddingTokenBudget', type: 'int', min: 1, placeholder: 'N', help: 'Embedding tokens being tokenized or encoded at once, over all requests (a request weighs its inputs x their length, estimated from the text, at most the model\'s max_seq_length each, until tokenized); further requests wait (default 262144; a request larger than this runs alone).' },
  { name: 'embedding-max-queue', key: 'embeddingMaxQueue', type: 'int', placeholder: 'N', help: 'Embedding requests waiting for --embedding-token-budget before new ones get 429 with Retry-After (default 64; 0 = no queue).' },
  { name: 'host', key: 'host', type: 'string', placeholder: 'ADDR', help: 'Address to listen on (default 127.0.0.1).' },
  { name: 'port', key: 'port', type: 'int', min: 0, max: 65535, placeholder: 'N', help: 'Port to listen on (default 8000; 0 picks a free port).' },
  { name: 'http-transport', key: 'httpTransport', type: 'choice', choices: [...TRANSPORT_CHOICES], placeholder: 'NAME', help: "HTTP server library: 'uws' (uWebSockets.js, the faster; its package has builds for Node 16-20), 'node' (node:http, any Node; the strict HTTP/1.1 parser: put this one behind a proxy), or 'auto' (default): uws where a build loads and --host is a loopback address, else node. The startup log names the choice and why." },
  { name: 'served-model-name', key: 'servedModelName', type: 'string', placeholder: 'NAME', help: 'Model id reported by /v1/models and required in requests (default: the folder name, or the file name without .gguf).' },
  { name: 'workers', key: 'workers', type: 'int', min: 1, placeholder: 'N', help: 'Device workers, each with its own ORT session and KV slots (CPU: default 1; use 2 for throughput on 2 cores). With --device cuda:0,cuda:1 one per GPU.' },
  { name: 'device', key: 'device', type: 'string', placeholder: 'LIST', help: "Execution provider: 'cpu' (default) or a comma list like 'cuda:0,cuda:1' (one worker per GPU; needs onnxruntime-node installed with ONNXRUNTIME_NODE_INSTALL=cuda12)." },
  { name: 'threads', key: 'threads', type: 'int', min: 1, placeholder: 'N', help: 'Intra-op threads per worker (default: cores / workers, at least 1).' },
  { name: 'max-batch-size', key: 'maxBatchSize', type: 'int', min: 1, placeholder: 'N', help: 'KV slots per worker = most sequences decoded together (default 32).' },
  { name: 'max-batch-tokens', key: 'maxBatchTokens', type: 'int', min: 1, placeholder: 'N', help: 'Token budget of one step: decode rows plus prefill chunks (default 512; raised to --max-batch-size if lower, since every decode row must fit).' },
  { name: 'max-prefill-with-decode', key: 'maxPrefillWithDecode', type: 'int', min: 1, placeholder: 'N', help: 'Prompt tokens (prefill chunks) a step may add to the decode rows of running sequences, within --max-batch-tokens: smaller keeps inter-token gaps even under load, larger starts new requests sooner; a step with no decode rows takes the whole --max-batch-tokens (default 128).' },
  { name: 'max-model-len', key: 'maxModelLen', type: 'int', min: 1, placeholder: 'N', help: "Longest sequence (prompt + output) (default: the model's max_position_embeddings, at most 2048)." },
  { name: 'kv-cache-tokens', key: 'kvCacheTokens', type: 'int', min: 1, placeholder: 'N', help: 'KV positions per worker (slots x capacity); beyond it the youngest sequence is preempted and recomputed later (default: max-batch-size x max-model-len).' },
  { name: 'quantize', key: 'quantize', type: 'choice', choices: ['int4', 'none'], placeholder: 'MODE', help: "Weight quantisation at load: 'int4' (MatMulNBits, block 32) or 'none' (default)." },
  { name: 'pipeline-depth', key: 'pipelineDepth', type: 'int', min: 1, max: 2, placeholder: 'N', help: "Steps queued per device worker: 2 forms a worker's next step while the current one runs (no round trip through the scheduler between steps; new requests join one step later), 1 is lock-step (default: 2 with --device cuda, 1 on CPU, where the two measured the same throughput)." },
  { name: 'no-prefix-caching', key: 'prefixCaching', type: 'switch', placeholder: '', help: "Turn off automatic prefix caching. By default a finished (or preempted) sequence's KV stays cached in blocks of 16 tokens, in whatever KV budget (--kv-cache-tokens) running sequences leave free, least recently used evicted first, and a new request starting with the same tokens (a shared system prompt, the previous turns of a conversation) copies them instead of computing them; usage.prompt_tokens_details.cached_tokens reports how many." },
  { name: 'scheduling-policy', key: 'schedulingPolicy', type: 'choice', choices: ['fcfs', 'priority'], placeholder: 'POLICY', help: "Order of admission and preemption: 'fcfs' (default: by arrival; a request with a non-zero 'priority' gets 400) or 'priority' (by the chat/completions 'priority' field, lower first, then by arrival; preemption evicts the lowest priority first)." },
  { name: 'spinning', key: 'spinning', type: 'choice', choices: ['on', 'off'], placeholder: 'on|off', help: "onnxruntime intra-op threads spin between kernels of a step instead of sleeping (default: on with one CPU worker, off with several, whose spinning threads would take each other's cores; 'off' also helps when other processes share the cores)." },
  { name: 'max-body-bytes', key: 'maxBodyBytes', type: 'int', min: 1, placeholder: 'N', help: 'Largest request body accepted, else 413 (default 4194304).' },
  { name: 'max-concurrency', key: 'maxConcurrency', type: 'int', min: 1, placeholder: 'N', help: 'Sequences generating at once (a request counts n x prompts); further chat/completions requests wait in the queue (default: workers x max-batch-size).' },
  { name: 'max-queue', key: 'maxQueue', type: 'int', placeholder: 'N', help: 'Chat/completions requests waiting for a turn (see --max-concurrency) before new ones get 429 with Retry-After (default 1024; 0 = no queue).' },
  { name: 'request-timeout', key: 'requestTimeout', type: 'seconds', placeholder: 'SECONDS', help: 'A chat/completions request not finished this long after arrival (queue time included) ends with a 408 timeout_error (streams: an error event, then [DONE]) and frees its slot (default 0 = no limit).' },
  { name: 'body-timeout', key: 'bodyTimeout', type: 'seconds', placeholder: 'SECONDS', help: 'A request body not fully received this long after its headers gets 408 and the connection is closed (default 30; 0 = no limit). Headers themselves must arrive within 10 s (the idle timeout, which also closes kept-alive connections idle that long).' },
  { name: 'shutdown-timeout', key: 'shutdownTimeout', type: 'seconds', placeholder: 'SECONDS', help: 'On SIGTERM/SIGINT: stop accepting connections, give in-flight requests this long to finish, then end the rest with a 503 error and exit 0 (default 30). A second signal skips the wait.' },
  { name: 'api-key', key: 'apiKey', type: 'string', placeholder: 'KEY', help: 'Require "Authorization: Bearer KEY" (or "x-api-key: KEY") on every /v1/* route (401 otherwise). Also read from SERVAL_API_KEY or --api-key-file, which keep the key out of the process list.' },
  { name: 'api-key-file', key: 'apiKeyFile', type: 'string', placeholder: 'PATH', help: "File of accepted API keys, one per line ('#' comments and blank lines ignored); combined with --api-key / SERVAL_API_KEY." },
  { name: 'auth-scope', key: 'authScope', type: 'choice', choices: ['v1', 'all'], placeholder: 'SCOPE', help: "With an API key: 'v1' (default) leaves /health and /metrics open; 'all' requires the key on every route." },
  { name: 'allowed-origins', key: 'allowedOrigins', type: 'string', placeholder: 'LIST', help: "CORS: comma list of browser origins allowed to call the API (e.g. 'https://app.example.com'), or '*' for any (default: none; no CORS headers)." },
  { name: 'max-n', key: 'maxN', type: 'int', min: 1, max: 128, placeholder: 'N', help: 'Largest n (choices per request) accepted (default 16).' },
  { name: 'max-prompts', key: 'maxPrompts', type: 'int', min: 1, max: 256, placeholder: 'N', help: "Most prompts in one /v1/completions request, else 400 on 'prompt' (default 64; prompts x n is at most 256 in any case)." },
  { name: 'grammar-compile-queue', key: 'grammarCompileQueue', type: 'int', min: 1, placeholder: 'N', help: 'Structured-output grammars (json_schema, tools) waiting to compile; beyond it new ones get 429 with Retry-After. Compiles run between device steps, one per worker at a time; identical grammars share one, cached ones skip it (default 32).' },
  { name: 'log-format', key: 'logFormat', type: 'choice', choices: ['json', 'pretty'], placeholder: 'FORMAT', help: "'json' (pino's JSON lines) or 'pretty' (one readable line per entry); default: pretty when stdout is a terminal, else json. Every request is logged at info (4xx with the reason, 5xx at error)." },
  { name: 'stream-stall-timeout', key: 'streamStallTimeout', type: 'seconds', placeholder: 'SECONDS', help: 'A streamed response whose client reads nothing this long (the socket does not drain) is ended with an error event and [DONE], logged, and its connection closed; a reader that keeps making progress, however slowly, gets the whole stream (default 60; 0 = never).' },
  { name: 'log-level', key: 'logLevel', type: 'choice', choices: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'], placeholder: 'LEVEL', help: 'pino log level (default info).' },
];

export const SERVE_DEFAULTS: ServeOptions = {
  model: null,
  ggufFile: null,
  embeddingModel: null,
  embeddingModelName: null,
  embeddingWorkers: 1,
  embeddingThreads: null,
  embeddingBatchWindowMs: 2,
  embeddingMaxBatch: 64,
  embeddingMaxBatchTokens: 8192,
  rerankModel: null,
  rerankModelName: null,
  maxEmbeddingInputs: 2048,
  embeddingTokenBudget: 262_144,
  embeddingMaxQueue: 64,
  host: '127.0.0.1',
  port: 8000,
  httpTransport: 'auto',
  servedModelName: null,
  workers: 1,
  device: 'cpu',
  threads: null,
  maxBatchSize: 32,
  maxBatchTokens: 512,
  maxPrefillWithDecode: null,
  maxModelLen: null,
  kvCacheTokens: null,
  quantize: null,
  pipelineDepth: null,
  prefixCaching: true,
  schedulingPolicy: 'fcfs',
  spinning: null,
  maxBodyBytes: 4 * 1024 * 1024,
  maxQueue: 1024,
  maxConcurrency: null,
  requestTimeout: 0,
  bodyTimeout: 30,
  shutdownTimeout: 30,
  apiKey: null,
  apiKeyFile: null,
  authScope: 'v1',
  allowedOrigins: '',
  maxN: 16,
  maxPrompts: 64,
  grammarCompileQueue: 32,
  logLevel: 'info',
  logFormat: null,
  streamStallTimeout: 60,
};

export class UsageError extends Error {}

export function parseServeOptions(argv: string[]): ServeOptions | 'help' {
  const options: Record<string, { type: 'string' | 'boolean' }> = { help: { type: 'boolean' } };
  for (const flag of FLAGS) options[flag.name] = { type: flag.type === 'switch' ? 'boolean' : 'string' };
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options, allowPositionals: false, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.values.help) return 'help';
  const result: ServeOptions = { ...SERVE_DEFAULTS };
  const target = result as unknown as Record<string, unknown>;
  for (const flag of FLAGS) {
    const raw = parsed.values[flag.name];
    if (flag.type === 'switch') {
      if (raw === true) target[flag.key] = false;
      continue;
    }
    if (typeof raw !== 'string') continue;
    target[flag.key] = convert(flag, raw);
  }
  if (result.quantize === ('none' as string)) result.quantize = null;
  if (result.kvCacheTokens !== null && result.maxModelLen !== null && result.kvCacheTokens < result.maxModelLen) {
    throw new UsageError(`--kv-cache-tokens (${result.kvCacheTokens}) must hold at least one sequence of --max-model-len (${result.maxModelLen})`);
  }
  try {
    parseDevices(result.device, result.workers);
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (result.ggufFile !== null && (result.model === null || result.model === 'none')) throw new UsageError('--gguf-file needs --model to name a Hugging Face repo');
  if (result.model === 'none' && result.embeddingModel === 'none' && result.rerankModel === null) {
    throw new UsageError('--model none and --embedding-model none leave nothing to serve (add --rerank-model DIR to serve only a reranker)');
  }
  return result;
}

function convert(flag: FlagSpec, raw: string): unknown {
  if (flag.type === 'int') {
    const value = Number(raw);
    const min = flag.min ?? 0;
    const max = flag.max ?? Number.MAX_SAFE_INTEGER;
    if (raw.trim() === '' || !Number.isInteger(value) || value < min || value > max) {
      const range =
        flag.max === undefined ? (min === 0 ? 'a non-negative integer' : `an integer of at least ${min}`) : max === min + 1 ? `${min} or ${max}` : `an integer from ${min} to ${max}`;
      throw new UsageError(`--${flag.name} expects ${range}, got '${raw}'`);
    }
    return value;
  }
  if (flag.type === 'seconds') {
    const value = Number(raw);
    if (raw.trim() === '' || !Number.isFinite(value) || value < 0) throw new UsageError(`--${flag.name} expects a non-negative number of seconds, got '${raw}'`);
    return value;
  }
  if (flag.type === 'choice' && !flag.choices?.includes(raw)) {
    throw new UsageError(`--${flag.name} must be one of ${flag.choices?.join(', ')}, got '${raw}'`);
  }
  return raw;
}

export function defaultThreads(workers: number): number {
  return Math.max(1, Math.floor(os.availableParallelism() / Math.max(1, workers)));
}

export function serveHelp(): string {
  const lines = ['Usage: serval serve [options]', '', 'Serve an OpenAI-compatible API (chat, completions, embeddings, rerank, models, health, metrics).', '', 'Options:'];
  const width = Math.max(...FLAGS.map((flag) => flag.name.length + flag.placeholder.length + 4));
  for (const flag of FLAGS) {
    const left = `  --${flag.name}${flag.placeholder === '' ? '' : ` ${flag.placeholder}`}`;
    lines.push(`${left.padEnd(width)}  ${flag.help}`);
  }
  lines.push(`${'  --help'.padEnd(width)}  Show this help.`);
  return lines.join('\n');
}
