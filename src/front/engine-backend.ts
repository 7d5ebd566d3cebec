// The GenerationBackend the server uses: text in, text out, over the engine's
// token-id API. Chat templates, tokenization, detokenization and stop strings
// run here on the front thread; the scheduler and devices see token ids only.

import { Engine, EngineRequestError, type EngineEvent } from '../engine/client/engine.js';
import type { GrammarWire, SamplingParams as EngineSamplingParams } from '../ipc/messages.js';
import type { GenerationDefaults } from '../model/types.js';
import { ApiError } from '../protocol/errors.js';
import type { ChatMessage, Prompt, SamplingOptions, ValidatedChatRequest, ValidatedCompletionRequest } from '../protocol/requests.js';
import { resolveSamplingParams } from '../sampling/params.js';
import { ChatTemplate, ChatTemplateError, type ChatMessage as TemplateMessage } from '../tokenizer/chat-template.js';
import type { TextTokenizer } from '../tokenizer/tokenizer.js';
import type { GenerationBackend, GenerationEvent, ModelEntry } from './backend.js';
import { ChoiceStream } from './choice-stream.js';
import { EventMerger } from './event-merger.js';
import { extractToolCalls, withDefaultToolPrompt } from './tool-call-events.js';
import { planOutput, toToolDefinition } from './structured-output.js';
import { FORMAT_MARKERS, type ToolCallFormat, type ToolFormatInfo } from '../structured/tool-calls.js';
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
}

/** One engine request of a response: a prompt and the choice index it produces. */
interface ChoiceJob {
  choiceIndex: number;
  promptIds: number[];
  params: EngineSamplingParams;
  /**
   * Completions echo: the prompt as the client wrote it, emitted before the
   * generated text; with logprobs, the prompt tokens after `skipTokens`
   * leading ones the tokenizer added (BOS), which the echoed text leaves out.
   */
  echo: { text: string; withLogprobs: boolean; skipTokens: number } | null;
}

export class EngineBackend implements Pick<GenerationBackend, 'models' | 'ready' | 'chat' | 'complete'> {
  private readonly model: ChatModel;
  private readonly metrics: ServerMetrics | null;
  private readonly bounds: PromptBounds;

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
    const rendered = this.renderChat(req);
    this.bounds.checkText(rendered, 'messages');
    const promptIds = await this.model.tokenizer.encode(rendered, { addSpecialTokens: false });
    const jobs = this.choiceJobs(promptIds, 0, req.sampling, null, 'messages', plan.grammar);
    yield* this.run(jobs, [promptIds.length], req.sampling, signal, plan.toolFormat);
  }

  async *complete(req: ValidatedCompletionRequest, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    if (req.sampling.responseFormat) {
      throw ApiError.unsupported('response_format is not supported on completions.', 'response_format');
    }
    const jobs: ChoiceJob[] = [];
    const promptLengths: number[] = [];
    for (let p = 0; p < req.prompts.length; p++) {
      const promptIds = await this.promptIds(req.prompts[p], req.prompts.length > 1 ? `prompt[${p}]` : 'prompt');
      promptLengths.push(promptIds.length);
      const echo = req.echo ? { ...(await this.echoOf(req.prompts[p], promptIds)), withLogprobs: req.sampling.logprobs !== null } : null;
      jobs.push(...this.choiceJobs(promptIds, p * req.sampling.n, req.sampling, echo, 'prompt'));
    }
    yield* this.run(jobs, promptLengths, req.sampling, signal);
  }

  private renderChat(req: ValidatedChatRequest): string {
    const { template } = this.model;
    if (!template) throw ApiError.invalidRequest(`model '${this.model.id}' has no chat template; use /v1/completions`, 'messages');
    const tools = req.toolChoice === 'none' || !req.tools ? null : req.tools.map(toToolDefinition);
    let messages = req.messages.map(toTemplateMessage);
    if (tools && !this.model.toolFormat.templateSupportsTools) {
      // The template cannot show tools: describe them in the system message
      // (documented default prompt) and spell earlier calls out as text.
      messages = withDefaultToolPrompt(messages, tools);
    }
    try {
      return template.render({
        messages,
        addGenerationPrompt: req.addGenerationPrompt,
        tools: this.model.toolFormat.templateSupportsTools ? tools : null,
        extra: req.chatTemplateKwargs ?? undefined,
      });
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
    param: string,
    grammar: GrammarWire | null = null,
  ): ChoiceJob[] {
    const maxModelLen = this.model.engine.maxModelLen;
    if (promptIds.length === 0) throw ApiError.invalidRequest('The prompt is empty.', param);
    if (promptIds.length >= maxModelLen) {
      throw ApiError.invalidRequest(
        `This model's maximum context length is ${maxModelLen} tokens, but the prompt has ${promptIds.length} tokens, leaving no room for a completion.`,
        param,
        'context_length_exceeded',
      );
    }
    const base = this.engineParams(sampling, promptIds.length, echo?.withLogprobs ?? false);
    if (grammar) {
      base.grammar = grammar;
      // A complete grammar allows only end tokens: generation must stop there.
      base.ignoreEos = false;
      // Nor may a stop token end it early (stop strings: see run()), and
      // min_tokens may not keep it from ending where the grammar is complete.
      base.stopTokenIds = [];
      base.minTokens = 0;
    }
    // Each choice is its own engine request, so one choice can stop on a stop
    // string without ending the others; seeded choices get seed + index.
    return Array.from({ length: sampling.n }, (_, i) => ({
      choiceIndex: firstIndex + i,
      promptIds,
      params: { ...base, seed: base.seed === null ? null : base.seed + i },
      echo,
    }));
  }

  private engineParams(sampling: SamplingOptions, promptLength: number, promptLogprobs: boolean): EngineSamplingParams {
    const resolved = resolveSamplingParams(
      {
        temperature: sampling.temperature,
        top_p: sampling.topP,
        top_k: sampling.topK,
        min_p: sampling.minP,
        seed: sampling.seed,
        presence_penalty: sampling.presencePenalty,
        frequency_penalty: sampling.frequencyPenalty,
        repetition_penalty: sampling.repetitionPenalty,
        logit_bias: sampling.logitBias,
        logprobs: sampling.logprobs,
      },
      { vocabSize: this.model.vocabSize, defaults: this.model.generation },
    );
    if (!resolved.ok) throw ApiError.invalidRequest(resolved.error.message, resolved.error.param);
    const p = resolved.params;
    const room = Math.max(1, this.model.engine.maxModelLen - promptLength);
    const maxTokens = Math.min(sampling.maxTokens ?? room, room);
    if (sampling.minTokens > maxTokens) {
      throw ApiError.invalidRequest(
        `'min_tokens' (${sampling.minTokens}) exceeds the ${maxTokens} tokens this prompt leaves in the model's context (${this.model.engine.maxModelLen}).`,
        'min_tokens',
        'invalid_value',
      );
    }
    return {
      maxTokens,
      temperature: p.temperature,
      topP: p.topP,
      topK: p.topK,
      minP: p.minP,
      seed: p.seed,
      presencePenalty: p.presencePenalty,
      frequencyPenalty: p.frequencyPenalty,
      repetitionPenalty: p.repetitionPenalty,
      logitBias: sampling.logitBias ?? {},
      stopTokenIds: sampling.stopTokenIds,
      ignoreEos: sampling.ignoreEos,
      minTokens: sampling.minTokens,
      logprobs: p.logprobs,
      promptLogprobs: promptLogprobs ? (p.logprobs ?? 0) : null,
      n: 1,
    };
  }

  private async *run(
    jobs: ChoiceJob[],
    promptLengths: number[],
    sampling: SamplingOptions,
    signal: AbortSignal,
    toolFormat: ToolCallFormat | null = null,
  ): AsyncIterable<GenerationEvent> {
    const merger = new EventMerger<GenerationEvent>();
    // Tool-call markers may be special tokens; they must reach the parser as text.
    const markers = toolFormat ? FORMAT_MARKERS[toolFormat].map((marker) => this.model.tokenizer.tokenToId(marker)) : [];
    const streams = jobs.map(
      (job) =>
        new ChoiceStream(this.model.tokenizer, {
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
    const abortAll = (): void => controllers.forEach((controller) => controller.abort());
    signal.addEventListener('abort', abortAll, { once: true });
    jobs.forEach((job, i) => {
      const events = this.runChoice(job, streams[i], controllers[i].signal);
      merger.add(toolFormat ? extractToolCalls(events, toolFormat) : events);
    });
    try {
      for await (const event of merger) {
        yield event;
        if (event.type === 'error') return;
      }
      const completionTokens = streams.reduce((sum, stream) => sum + stream.completionTokens, 0);
      yield { type: 'usage', promptTokens: promptLengths.reduce((a, b) => a + b, 0), completionTokens };
    } finally {
      signal.removeEventListener('abort', abortAll);
      abortAll();
    }
  }

  private async *runChoice(job: ChoiceJob, stream: ChoiceStream, signal: AbortSignal): AsyncIterable<GenerationEvent> {
    const index = job.choiceIndex;
    let echoed = job.echo === null;
    if (job.echo && !job.echo.withLogprobs) {
      yield { type: 'delta', choiceIndex: index, text: job.echo.text };
      echoed = true;
    }
    const timer = new ChoiceTimer(this.metrics);
    let events: AsyncIterable<EngineEvent>;
    try {
      events = this.model.engine.generate(job.promptIds, job.params, signal);
      for await (const event of events) {
        if (event.type === 'tokens') {
          timer.tokens(event.tokenIds.length, event.queueTimeMs);
          if (!echoed && job.echo) {
            const skip = job.echo.skipTokens;
            const logprobs = stream.recordPrompt(job.promptIds.slice(skip), event.promptLogprobs?.slice(skip) ?? [], job.echo.text);
            yield { type: 'delta', choiceIndex: index, text: job.echo.text, logprobs };
            echoed = true;
          }
          const chunk = stream.push(event.tokenIds, event.logprobs);
          if (chunk.text !== '' || chunk.logprobs?.length) yield { type: 'delta', choiceIndex: index, text: chunk.text, ...(chunk.logprobs ? { logprobs: chunk.logprobs } : {}) };
          if (chunk.stopped) {
            yield { type: 'finish', choiceIndex: index, finishReason: 'stop' };
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
          if (tail !== '') yield { type: 'delta', choiceIndex: index, text: tail };
          yield { type: 'finish', choiceIndex: index, finishReason: event.reason };
        }
      }
    } catch (error) {
      if (error instanceof EngineRequestError) {
        yield { type: 'error', error: refusal(error) };
        return;
      }
      throw error;
    }
  }
}

/** The scheduler's refusal as the HTTP error it stands for. */
function refusal(error: EngineRequestError): ApiError {
  if (error.status === 429 || error.status === 503) return ApiError.tooManyRequests(error.message, 1);
  if (error.status === 400) return ApiError.invalidRequest(error.message, error.param ?? null);
  return ApiError.internal();
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
