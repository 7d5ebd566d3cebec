// Shared helpers for the operations tests: raw HTTP calls against a live
// server and a small SSE reader that keeps every frame (errors included).

export interface SseResult {
  status: number;
  /** Parsed JSON frames in order (chunks and error objects). */
  frames: Array<Record<string, unknown>>;
  /** Whether the stream ended with `data: [DONE]`. */
  done: boolean;
  /** Concatenated completion text (choices[0].text or delta.content). */
  text: string;
  /** The `error` object of an error frame, if one arrived. */
  error: { message: string; type: string; code: string | null } | null;
  finishReason: string | null;
}

export function parseSse(status: number, body: string): SseResult {
  const result: SseResult = { status, frames: [], done: false, text: '', error: null, finishReason: null };
  for (const block of body.split('\n\n')) {
    const line = block.trim();
    if (!line.startsWith('data: ')) continue;
    const data = line.slice(6);
    if (data === '[DONE]') {
      result.done = true;
      continue;
    }
    const frame = JSON.parse(data) as Record<string, unknown>;
    result.frames.push(frame);
    if (frame.error !== undefined) result.error = frame.error as SseResult['error'];
    const choices = frame.choices as Array<{ text?: string; delta?: { content?: string }; finish_reason?: string | null }> | undefined;
    for (const choice of choices ?? []) {
      result.text += choice.text ?? choice.delta?.content ?? '';
      if (choice.finish_reason) result.finishReason = choice.finish_reason;
    }
  }
  return result;
}

export function completionBody(extra: Record<string, unknown> = {}): string {
  return JSON.stringify({ model: 'serval-test', prompt: 'The serval is a wild cat', max_tokens: 8, temperature: 0, ...extra });
}

export async function post(base: string, route: string, body: string, headers: Record<string, string> = {}): Promise<Response> {
  return fetch(`${base}${route}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
}

/** Streams a completion; `onFirst` runs when the first chunk arrived. */
export async function streamCompletion(base: string, extra: Record<string, unknown>, onFirst?: () => void): Promise<SseResult> {
  const res = await post(base, '/v1/completions', completionBody({ stream: true, ...extra }));
  if (res.body === null) return parseSse(res.status, '');
  const reader = res.body.getReader();
  const decoder = new TextDecoder();
  let text = '';
  let first = true;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    text += decoder.decode(value, { stream: true });
    if (first && text.includes('\n\n')) {
      first = false;
      onFirst?.();
    }
  }
  return parseSse(res.status, text);
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
