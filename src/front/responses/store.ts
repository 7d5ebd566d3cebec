// Responses kept for `previous_response_id`, GET and DELETE: in memory,
// least recently used first out, bounded by a count and by an estimate of the
// bytes held (a conversation shares its earlier messages with the response it
// continues, so each entry is charged only for what it adds). Lost on restart,
// as vLLM's store is; `store: false` skips it.

import type { ChatMessage } from '../../protocol/requests.js';
import { asInputItem } from '../../protocol/responses-api/objects.js';
import type { WireInputItem, WireResponse } from '../../protocol/responses-api/wire.js';

export const DEFAULT_STORE_MAX_RESPONSES = 1024;
export const DEFAULT_STORE_MAX_BYTES = 64 * 1024 * 1024;

export interface StoredResponse {
  response: WireResponse;
  /** The conversation after this response (input history + its output), without instructions, which OpenAI does not carry over. */
  conversation: readonly ChatMessage[];
}

interface Entry extends StoredResponse {
  bytes: number;
}

export class ResponseStore {
  /** Map order is recency order: the first entry is evicted first. */
  private readonly entries = new Map<string, Entry>();
  /** Output item id → the response holding it (for item_reference inputs). */
  private readonly items = new Map<string, string>();
  private bytes = 0;

  constructor(
    readonly maxResponses = DEFAULT_STORE_MAX_RESPONSES,
    readonly maxBytes = DEFAULT_STORE_MAX_BYTES,
  ) {}

  get size(): number {
    return this.entries.size;
  }

  get(id: string): StoredResponse | undefined {
    const entry = this.entries.get(id);
    if (entry === undefined) return undefined;
    this.entries.delete(id);
    this.entries.set(id, entry);
    return entry;
  }

  /** `added` = the messages this response contributed (its input and output), for the size estimate. */
  put(response: WireResponse, conversation: readonly ChatMessage[], added: readonly ChatMessage[]): void {
    this.delete(response.id);
    const bytes = 2 * (JSON.stringify(response).length + added.reduce((sum, m) => sum + JSON.stringify(m).length, 0));
    this.entries.set(response.id, { response, conversation, bytes });
    for (const item of response.output) this.items.set(item.id, response.id);
    this.bytes += bytes;
    for (const [id] of this.entries) {
      if (this.entries.size <= this.maxResponses && this.bytes <= this.maxBytes) break;
      if (id === response.id) break; // the newest always stays, even when alone over the byte budget
      this.delete(id);
    }
  }

  delete(id: string): boolean {
    const entry = this.entries.get(id);
    if (entry === undefined) return false;
    this.entries.delete(id);
    this.bytes -= entry.bytes;
    for (const item of entry.response.output) this.items.delete(item.id);
    return true;
  }

  /** An output item of a stored response, as the input item a reference to it stands for. */
  item(id: string): WireInputItem | undefined {
    const owner = this.items.get(id);
    const item = owner === undefined ? undefined : this.entries.get(owner)?.response.output.find((it) => it.id === id);
    return item === undefined ? undefined : asInputItem(item);
  }
}
