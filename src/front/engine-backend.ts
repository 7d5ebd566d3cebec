// The GenerationBackend the server uses: text in, text out, over the engine's
// token-id API. Chat templates, tokenization, detokenization and stop strings
// run here on the front thread; the scheduler and devices see token ids only.

import type { ModelSummary } from '../model/model-summary.js';
import type { Engine, ScheduleOptions } from '../engine/client/engine.js';
import type { GenerationDefaults } from '../model/types.js';
import { ApiError } from '../protocol/errors.js';
import type { ChatMessage, Prompt, SamplingOptions, ValidatedChatRequest, ValidatedCompletionRequest } from '../protocol/requests.js';
import type { TokenLogprob } from '../sampling/logprobs.js';
import { resolveSamplingParams, type SamplingParams } from '../sampling/params.js';
import type { Grammar } from '../structured/grammar.js';
import { ChatTemplate, ChatTemplateError, type ChatMessage as TemplateMessage } from '../tokenizer/chat-template.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { DetokenizeRequest, TokenizeRequest } from '../protocol/tokenize.js';
import type { GenerationBackend, GenerationEvent, ModelEntry, TokenizeResult } from './backend.js';
import { ChoiceStream } from './choice-stream.js';
import { EventMerger } from './event-merger.js';
import { extractToolCalls } from './tool-call-events.js';
import { planOutput } from './structured-output.js';
import { FORMAT_MARKERS, type ToolCallFormat, type ToolFormatInfo } from '../structured/tool-call-format.js';
import { withDefaultToolPrompt } from '../structured/tool-prompt.js';
import { ChoiceTimer } from './engine-metrics.js';
import type { ServerMetrics } from '../metrics/registry.js';
import { PromptBounds } from './prompt-bounds.js';

export interface ChatModel {
  id: string;
  engine: Engine;
  tokenizer: TextTokenizer;
  template: ChatTemplate | null;
  /** How this model writes tool calls, and whether its template renders tools. */
  toolFormat: ToolFormatInfo;
  generation: GenerationDefaults;
  vocabSize: number;
  created: number;
  /** What was loaded, for the startup log. */
  summary: ModelSummary;
}

/**
 * One engine request of a response: a prompt and the choice index it
 * produces. A request's n choices are n engine requests (vLLM v1's parent
 * request, on the client side), so one choice can stop on a stop string
 * without ending the others; the scheduler places sequences with the same
 * prompt on one worker, which computes the prompt's KV once.
 */
interface ChoiceJob {
  choiceIndex: number;
  promptIds: number[];
  params: SamplingParams;
  /**
   * Completions echo: the prompt as the client wrote it, emitted before the
   * generated text; with logprobs, the prompt tokens after `skipTokens`
   * leading ones the tokenizer added (BOS), which the echoed text leaves out.
   */
  echo: { text: string; skipTokens: number; logprobs: EchoLogprobs | null } | null;
}

/**
 * Prompt logprobs for echo: computed once per prompt, by its first choice
 * (the one whose params ask for them), and shared with the prompt's other
 * choices. null: the first choice ended without any (failed or cancelled).
 */
class EchoLogprobs {
  readonly entries: Promise<readonly (TokenLogprob | null)[] | null>;
  deliver!: (entries: readonly (TokenLogprob | null)[] | null) => void;
  constructor() {
    this.entries = new Promise((resolve) => (this.deliver = resolve));
  }
}

export class EngineBackend implements Pick<GenerationBackend, 'models' | 'ready' | 'chat' | 'complete' | 'countChatTokens' | 'tokenize' | 'detokenize'> {
  private readonly model: ChatModel;
  private readonly metrics: ServerMetrics | null;
  private readonly bounds: PromptBounds;
  private nextGroup = 0;

  constructor(model: ChatModel, metrics: ServerMetrics | null = null) {
    this.model = model;
    this.metrics = metrics;
    this.bounds = new PromptBounds(model.tokenizer, model.engine.maxModelLen);
  }

  models(): ModelEntry[] {
    const { id, created, engine } = this.model;
    return [{ id, kind: 'chat', created, ownedBy: 'serval', maxModelLen: engine.maxModelLen }];
  }

  ready(): boolean {
    return true;
  }

  async *chat(req: ValidatedChatRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    this.bounds.checkMessages(req.messages);
    const plan = await planOutput(req, this.model.toolFormat.format, this.model.vocabSize);
    const promptIds = await this.chatPromptIds(req);
    this.model.engine.checkPrompt(promptIds, 'messages');
    const jobs = this.choiceJobs(promptIds, 0, req.sampling, null, plan.grammar);
    yield { type: 'prompt', promptTokens: promptIds.length };
    yield* this.run(jobs, [promptIds.length], req.sampling, req.priority, signal, plan.toolFormat);
  }

  async countChatTokens(req: ValidatedChatRequest): Promise<number> {
    this.bounds.checkMessages(req.messages);
    return (await this.chatPromptIds(req)).length;
  }

  private async chatPromptIds(req: ValidatedChatRequest): Promise<number[]> {
    const rendered = this.renderChat(req);
    this.bounds.checkText(rendered, 'messages');
    return this.model.tokenizer.encode(rendered, { addSpecialTokens: false });
  }

  async *complete(req: ValidatedCompletionRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    if (req.sampling.responseFormat) {
      throw ApiError.unsupported('response_format is not supported on completions.', 'response_format');
    }
    const jobs: ChoiceJob[] = [];
    const promptLengths: number[] = [];
    for (let p = 0; p < req.prompts.length; p++) {
      const param = req.prompts.length > 1 ? `prompt[${p}]` : 'prompt';
      const promptIds = await this.promptIds(req.prompts[p], param);
      this.model.engine.checkPrompt(promptIds, param);
      promptLengths.push(promptIds.length);
      const echo = req.echo ? { ...(await this.echoOf(req.prompts[p], promptIds)), logprobs: req.sampling.logprobs !== null ? new EchoLogprobs() : null } : null;
      jobs.push(...this.choiceJobs(promptIds, p * req.sampling.n, req.sampling, echo));
    }
    yield* this.run(jobs, promptLengths, req.sampling, req.priority, signal);
  }

  /** The ids chat() would generate from (same checks, template and encoding), or a prompt's. */
  async tokenize(req: TokenizeRequest): Promise<TokenizeResult> {
    const { tokenizer } = this.model;
    let ids: number[];
    if (req.kind === 'prompt') {
      this.bounds.checkText(req.text, 'prompt');
      ids = await tokenizer.encode(req.text, { addSpecialTokens: req.addSpecialTokens });
    } else {
      this.bounds.checkMessages(req.chat.messages);
      const rendered = this.renderChat(req.chat);
      this.bounds.checkText(rendered, 'messages');
      ids = await tokenizer.encode(rendered, { addSpecialTokens: req.addSpecialTokens });
    }
    return { ids, tokenStrs: req.returnTokenStrs ? ids.map((id) => tokenizer.idToToken(id) ?? '') : null };
  }

  async detokenize(req: DetokenizeRequest): Promise<string> {
    const { tokenizer } = this.model;
    const bad = req.ids.findIndex((id) => id >= this.model.vocabSize || tokenizer.idToToken(id) === null);
    if (bad >= 0) throw ApiError.invalidRequest(`Token id ${req.ids[bad]} is out of vocabulary (size ${this.model.vocabSize}).`, `tokens[${bad}]`, 'invalid_value');
    return tokenizer.decode(req.ids, { skipSpecialTokens: false });
  }

  private renderChat(req: ValidatedChatRequest): string {
    const { template } = this.model;
    if (!template) throw ApiError.invalidRequest(`model '${this.model.id}' has no chat template; use /v1/completions`, 'messages');
    const tools = req.toolChoice === 'none' ? null : req.tools;
    let messages = req.messages.map(toTemplateMessage);
    if (tools && !this.model.toolFormat.templateSupportsTools) {
      // The template cannot show tools: describe them in the system message
      // (documented default prompt) and spell earlier calls out as text.
      messages = withDefaultToolPrompt(messages, tools);
    }
    try {
      const rendered = template.render({
        messages,
        addGenerationPrompt: req.addGenerationPrompt,
        tools: this.model.toolFormat.templateSupportsTools ? tools : null,
        extra: req.chatTemplateKwargs ?? undefined,
      });
      return req.continueFinalMessage ? continuing(rendered, req.messages[req.messages.length - 1]) : rendered;
    } catch (error) {
      if (error instanceof ChatTemplateError) throw ApiError.invalidRequest(error.message, 'messages');
      throw error;
    }
  }

  /** A text prompt echoes as written, without the special tokens encoding added; token ids echo as their text. */
  private async echoOf(prompt: Prompt, promptIds: number[]): Promise<{ text: string; skipTokens: number }> {
    if (prompt.type === 'text') {
      const plain = await this.model.tokenizer.encode(prompt.text, { addSpecialTokens: false });
      const added = promptIds.length - plain.length;
      if (added >= 0 && plain.every((id, i) => promptIds[added + i] === id)) return { text: prompt.text, skipTokens: added };
    }
    return { text: await this.model.tokenizer.decode(promptIds, { skipSpecialTokens: false }), skipTokens: 0 };
  }

  private async promptIds(prompt: Prompt, param: string): Promise<number[]> {
    if (prompt.type === 'text') {
      this.bounds.checkText(prompt.text, param);
      return this.model.tokenizer.encode(prompt.text, { addSpecialTokens: true });
    }
    const bad = prompt.ids.find((id) => id >= this.model.vocabSize);
    if (bad !== undefined) throw ApiError.invalidRequest(`token id ${bad} is outside the vocabulary (size ${this.model.vocabSize})`, param);
    return prompt.ids;
  }

  private choiceJobs(
    promptIds: number[],
    firstIndex: number,
    sampling: SamplingOptions,
    echo: ChoiceJob['echo'],
    grammar: Grammar | null = null,
  ): ChoiceJob[] {
    const params = this.samplingParams(sampling, promptIds.length, grammar);
    return Array.from({ length: sampling.n }, (_, i) => ({
      choiceIndex: firstIndex + i,
      promptIds,
      params: {
        ...params,
        // Seeded choices draw their own streams: seed + index.
        seed: params.seed === null ? null : params.seed + i,
        // The first choice scores the prompt for echo; the others reuse its logprobs.
        promptLogprobs: i === 0 && echo?.logprobs ? (params.logprobs ?? 0) : null,
      },
      echo,
    }));
  }

  /** The request's engine parameters: validated, with the model's defaults, clamped to the context this prompt leaves. */
  private samplingParams(sampling: SamplingOptions, promptLength: number, grammar: Grammar | null): SamplingParams {
    const resolved = resolveSamplingParams(sampling, { vocabSize: this.model.vocabSize, defaults: this.model.generation });
    if (!resolved.ok) throw ApiError.invalidRequest(resolved.error.message, resolved.error.param);
    const badStop = sampling.stopTokenIds.find((id) => id >= this.model.vocabSize);
    if (badStop !== undefined) {
      throw ApiError.invalidRequest(`'stop_token_ids' contains ${badStop}, which is not a token id in [0, ${this.model.vocabSize}).`, 'stop_token_ids');
    }
    const room = Math.max(1, this.model.engine.maxModelLen - promptLength);
    const maxTokens = Math.min(sampling.maxTokens ?? room, room);
    if (sampling.minTokens > maxTokens) {
      throw ApiError.invalidRequest(
        `'min_tokens' (${sampling.minTokens}) exceeds the ${maxTokens} tokens this prompt leaves in the model's context (${this.model.engine.maxModelLen}).`,
        'min_tokens',
        'invalid_value',
      );
    }
    const params: SamplingParams = {
      ...resolved.params,
      maxTokens,
      stopTokenIds: sampling.stopTokenIds,
      ignoreEos: sampling.ignoreEos,
      minTokens: sampling.minTokens,
      promptLogprobs: null,
      grammar,
    };
    // A complete grammar allows only end tokens: generation must stop there.
    // Nor may a stop token end it early (stop strings: see run()), and
    // min_tokens may not keep it from ending where the grammar is complete.
    if (grammar) return { ...params, ignoreEos: false, stopTokenIds: [], minTokens: 0 };
    return params;
  }

  private async *run(
    jobs: ChoiceJob[],
    promptLengths: number[],
    sampling: SamplingOptions,
    priority: number,
    signal: AbortSignal,
    toolFormat: ToolCallFormat | null = null,
  ): AsyncIterable<GenerationEvent> {
    // Tool-call markers may be special tokens; they must reach the parser as text.
    const markers = toolFormat ? FORMAT_MARKERS[toolFormat].map((marker) => this.model.tokenizer.tokenToId(marker)) : [];
    const streams = jobs.map(
      (job) =>
        new ChoiceStream(this.model.tokenizer, job.choiceIndex, {
          // Grammar-constrained output ends where the grammar says: a stop string
          // cutting it short would break the format the grammar guarantees.
          stop: job.params.grammar ? [] : sampling.stop,
          includeStopStrInOutput: sampling.includeStopStrInOutput,
          skipSpecialTokens: sampling.skipSpecialTokens,
          logprobs: sampling.logprobs !== null,
          textSpecialTokenIds: new Set(markers.filter((id): id is number => id !== null)),
        }),
    );
    const controllers = jobs.map(() => new AbortController());
    // The request's sequences share a group: the scheduler lets them take turns with other requests.
    const schedule: ScheduleOptions = { group: String(this.nextGroup++), priority };
    const abortAll = (): void => controllers.forEach((controller) => controller.abort());
    signal.addEventListener('abort', abortAll, { once: true });
    // Prompt tokens each choice's admission took from the prefix cache (known with its first token).
    const cached = jobs.map(() => 0);
    const choices = jobs.map((job, i) => {
      const events = this.runChoice(job, streams[i], controllers[i].signal, schedule, (tokens) => (cached[i] = tokens));
      return toolFormat ? extractToolCalls(events, toolFormat) : events;
    });
    // One choice is read directly; several are interleaved in arrival order.
    const merged = choices.length === 1 ? choices[0] : mergeAll(choices);
    try {
      for await (const event of merged) {
        yield event;
        if (event.type === 'error') return;
      }
      const completionTokens = streams.reduce((sum, stream) => sum + stream.completionTokens, 0);
      // Like prompt_tokens, cached_tokens counts each prompt once: as its first choice found it.
      const cachedTokens = jobs.reduce((sum, job, i) => (job.choiceIndex % sampling.n === 0 ? sum + cached[i] : sum), 0);
      yield { type: 'usage', promptTokens: promptLengths.reduce((a, b) => a + b, 0), completionTokens, cachedTokens };
    } finally {
      signal.removeEventListener('abort', abortAll);
      abortAll();
    }
  }

  private async *runChoice(
    job: ChoiceJob,
    stream: ChoiceStream,
    signal: AbortSignal,
    schedule: ScheduleOptions,
    onCachedTokens: (tokens: number) => void,
  ): AsyncIterable<GenerationEvent> {
    const index = job.choiceIndex;
    const echo = job.echo;
    let echoed = echo === null;
    if (echo && !echo.logprobs) {
      yield stream.echo(echo.text);
      echoed = true;
    }
    const timer = new ChoiceTimer(this.metrics);
    const scoresPrompt = job.params.promptLogprobs !== null;
    try {
      for await (const event of this.model.engine.generate(job.promptIds, job.params, signal, schedule)) {
        if (event.type === 'tokens') {
          timer.tokens(event.tokenIds.length, event.queueTimeMs);
          if (event.cachedTokens !== undefined) onCachedTokens(event.cachedTokens);
          if (!echoed && echo?.logprobs) {
            if (scoresPrompt) echo.logprobs.deliver(event.promptLogprobs ?? []);
            const entries = await echo.logprobs.entries;
            if (entries === null) return; // the scoring choice failed or was cancelled: it reports why
            yield stream.echoWithLogprobs(echo.text, job.promptIds.slice(echo.skipTokens), entries.slice(echo.skipTokens));
            echoed = true;
          }
          const delta = stream.push(event.tokenIds, event.logprobs);
          if (delta) yield delta;
          if (stream.stopped) {
            yield { type: 'finish', choiceIndex: index, finishReason: 'stop', ...(stream.stopString === undefined ? {} : { stopSequence: stream.stopString }) };
            return; // leaving the loop cancels the engine request
          }
        } else {
          if (event.reason === 'error') {
            yield { type: 'error', error: ApiError.internal(event.error?.message ?? 'generation failed') };
            return;
          }
          if (event.reason === 'abort') return;
          timer.finished();
          const tail = stream.finish();
          if (tail) yield tail;
          yield { type: 'finish', choiceIndex: index, finishReason: event.reason };
        }
      }
    } catch (error) {
      // A refusal from the engine is the ApiError the client gets.
      if (error instanceof ApiError) {
        yield { type: 'error', error };
        return;
      }
      throw error;
    } finally {
      if (scoresPrompt) echo?.logprobs?.deliver(null);
    }
  }
}

/**
 * The rendered prompt cut right after the final message's text, so the model
 * continues that message instead of starting a new turn (vLLM's
 * continue_final_message; Anthropic's assistant prefill).
 */
function continuing(rendered: string, final: ChatMessage): string {
  const text = final.content ?? '';
  const at = text === '' ? -1 : rendered.lastIndexOf(text);
  return at < 0 ? rendered : rendered.slice(0, at + text.length);
}

function mergeAll<T>(sources: AsyncIterable<T>[]): AsyncIterable<T> {
  const merger = new EventMerger<T>();
  for (const source of sources) merger.add(source);
  return merger;
}

function toTemplateMessage(message: ChatMessage): TemplateMessage {
  return {
    role: message.role,
    content: message.content,
    ...(message.name ? { name: message.name } : {}),
    ...(message.toolCalls ? { tool_calls: message.toolCalls } : {}),
    ...(message.toolCallId ? { tool_call_id: message.toolCallId } : {}),
    ...(message.reasoningContent ? { reasoning_content: message.reasoningContent } : {}),
  };
}
