// What Serval reads from a tokenizer.json beyond what the libraries expose:
// how token strings map to bytes, whether the decoder pipeline is one the
// streaming detokenizer can replay, and which BOS the post-processor adds.

/**
 * How token strings map to bytes:
 * - `byte_level`: GPT-2 style, every character stands for one byte (Ġ = space).
 * - `byte_fallback`: SentencePiece BPE, `▁` = space, `<0xE2>` tokens carry raw bytes.
 * - `raw`: token strings are text (WordPiece, Unigram without byte fallback, ...).
 */
export type VocabType = 'byte_level' | 'byte_fallback' | 'raw';

/**
 * The decoder pipeline, when it is one the detokenizer can replay token by token
 * exactly (see detokenizer.ts); `generic` means "only the library can decode".
 */
export type DecoderPlan =
  | { kind: 'byte_level' }
  | {
      kind: 'sentencepiece';
      /** Leading spaces the Strip decoder removes from the whole output. */
      stripLeadingSpaces: number;
      /**
       * How a run of byte tokens that is not valid UTF-8 decodes:
       * Rust replaces every byte of the run with U+FFFD (`strict`); the JS library
       * decodes the run with TextDecoder (`lossy`, BOM at run start dropped).
       */
      byteRuns: 'strict' | 'lossy';
    }
  | { kind: 'generic' };

interface DecoderJson {
  type?: string;
  decoders?: DecoderJson[];
  pattern?: { String?: string; Regex?: string };
  content?: string;
  start?: number;
  stop?: number;
}

export interface TokenizerJson {
  model?: { type?: string; byte_fallback?: boolean; unk_token?: unknown; vocab?: unknown } | null;
  decoder?: DecoderJson | null;
  pre_tokenizer?: { type?: string; pretokenizers?: { type?: string }[] } | null;
  post_processor?: PostProcessorJson | null;
  added_tokens?: { id: number; content: string; special?: boolean }[];
}

interface TemplateItem {
  SpecialToken?: { id: string; type_id?: number };
  Sequence?: { id: 'A' | 'B'; type_id?: number };
}

interface PostProcessorJson {
  type?: string;
  single?: TemplateItem[];
  pair?: TemplateItem[];
  processors?: PostProcessorJson[];
  special_tokens?: Record<string, { ids?: number[] }>;
  cls?: [string, number];
}

/** `model.type`, or what Rust infers when it is absent (older files omit it). */
export function modelTypeOf(model: NonNullable<TokenizerJson['model']>): string {
  if (typeof model.type === 'string') return model.type;
  if (Array.isArray(model.vocab)) return 'Unigram';
  if ('merges' in model) return 'BPE';
  if ('max_input_chars_per_word' in model) return 'WordPiece';
  return 'WordLevel';
}

function decoderTypes(decoder: DecoderJson | null | undefined): string[] {
  if (!decoder) return [];
  if (decoder.type === 'Sequence') return (decoder.decoders ?? []).flatMap(decoderTypes);
  return decoder.type ? [decoder.type] : [];
}

export function detectVocabType(json: TokenizerJson): VocabType {
  const preTokenizers = json.pre_tokenizer?.type === 'Sequence' ? (json.pre_tokenizer.pretokenizers ?? []) : [json.pre_tokenizer];
  if (decoderTypes(json.decoder).includes('ByteLevel') || preTokenizers.some((p) => p?.type === 'ByteLevel')) {
    return 'byte_level';
  }
  if (json.model?.byte_fallback === true) return 'byte_fallback';
  return 'raw';
}

/** `byteRuns`: how the library in use decodes invalid byte runs (see DecoderPlan). */
export function planDecoder(decoder: DecoderJson | null | undefined, byteRuns: 'strict' | 'lossy'): DecoderPlan {
  if (!decoder) return { kind: 'generic' };
  const steps = decoder.type === 'Sequence' ? (decoder.decoders ?? []) : [decoder];
  if (steps.length === 1 && steps[0].type === 'ByteLevel') return { kind: 'byte_level' };
  // The SentencePiece BPE pipeline of Llama 2, Mistral, Phi-3, Gemma:
  // Replace(▁→' '), ByteFallback, Fuse, [Strip(' ', n, 0)].
  const [replace, byteFallback, fuse, strip, ...rest] = steps;
  const isSentencePiece =
    replace?.type === 'Replace' &&
    replace.pattern?.String === '\u2581' &&
    replace.content === ' ' &&
    byteFallback?.type === 'ByteFallback' &&
    fuse?.type === 'Fuse' &&
    rest.length === 0 &&
    (strip === undefined || (strip.type === 'Strip' && strip.content === ' ' && (strip.stop ?? 0) === 0));
  if (isSentencePiece) {
    return {
      kind: 'sentencepiece',
      stripLeadingSpaces: strip?.start ?? 0,
      byteRuns,
    };
  }
  return { kind: 'generic' };
}

/** The BOS id a TemplateProcessing / Bert / Roberta post-processor puts first, if any. */
export function postProcessorBos(processor: PostProcessorJson | null | undefined, ids: Map<string, number>): number | null {
  if (!processor) return null;
  if (processor.type === 'Sequence') {
    for (const p of processor.processors ?? []) {
      const bos = postProcessorBos(p, ids);
      if (bos !== null) return bos;
    }
    return null;
  }
  if (processor.type === 'TemplateProcessing') {
    const first = processor.single?.[0]?.SpecialToken?.id;
    if (first === undefined) return null;
    return processor.special_tokens?.[first]?.ids?.[0] ?? ids.get(first) ?? null;
  }
  if ((processor.type === 'BertProcessing' || processor.type === 'RobertaProcessing') && processor.cls) {
    return processor.cls[1];
  }
  return null;
}

/** tokenizer_config.json stores special tokens as a string or an AddedToken object. */
export function specialTokenName(value: unknown): string | null {
  if (typeof value === 'string') return value;
  if (value !== null && typeof value === 'object' && typeof (value as { content?: unknown }).content === 'string') {
    return (value as { content: string }).content;
  }
  return null;
}

/**
 * Segment ids of a pair encoding, from the post-processor's pair template, for a
 * library that returns only ids (@huggingface/tokenizers). `firstLen` / `secondLen`
 * are the texts' token counts without special tokens. Null when the processor is
 * not one this reads (TemplateProcessing, BertProcessing, RobertaProcessing).
 */
export function pairTypeIds(processor: PostProcessorJson | null | undefined, firstLen: number, secondLen: number): number[] | null {
  if (!processor) return null;
  const fill = (n: number, v: number): number[] => new Array<number>(n).fill(v);
  switch (processor.type) {
    case 'BertProcessing':
      return [...fill(firstLen + 2, 0), ...fill(secondLen + 1, 1)];
    case 'RobertaProcessing':
      return fill(firstLen + secondLen + 4, 0);
    case 'TemplateProcessing': {
      if (!processor.pair) return null;
      const out: number[] = [];
      for (const item of processor.pair) {
        if (item.Sequence) out.push(...fill(item.Sequence.id === 'A' ? firstLen : secondLen, item.Sequence.type_id ?? 0));
        else if (item.SpecialToken) out.push(...fill(processor.special_tokens?.[item.SpecialToken.id]?.ids?.length ?? 1, item.SpecialToken.type_id ?? 0));
      }
      return out;
    }
    default:
      return null;
  }
}
