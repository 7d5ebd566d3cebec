// Loads what the front needs to serve a chat model (tokenizer, chat template,
// generation defaults) and starts its engine.

import { Engine } from '../engine/client/engine.js';
import type { EngineConfig } from '../engine/config.js';
import { loadModel } from '../model/load-model.js';
import { ChatTemplate } from '../tokenizer/chat-template.js';
import { TextTokenizer } from '../tokenizer/tokenizer.js';
import { detectToolCallFormat } from '../structured/tool-call-format.js';
import type { ChatModel } from './engine-backend.js';

export async function loadChatModel(config: EngineConfig, id: string): Promise<ChatModel> {
  const folder = await loadModel(config.modelDir);
  const { tokenizerJsonPath, tokenizerJsonText, tokenizerConfig } = folder;
  const tokenizer = await TextTokenizer.fromFiles({ tokenizerJsonPath, tokenizerJsonText, tokenizerConfig });
  const special = (id: number | null): string | null => (id === null ? null : tokenizer.idToToken(id));
  const template = folder.chatTemplate
    ? new ChatTemplate(folder.chatTemplate, {
        bosToken: special(tokenizer.bosTokenId),
        eosToken: special(tokenizer.eosTokenId),
        padToken: special(tokenizer.padTokenId),
        unkToken: special(tokenizer.unkTokenId),
      })
    : null;
  const engine = await Engine.create(config);
  return {
    id,
    engine,
    tokenizer,
    template,
    toolFormat: detectToolCallFormat(folder.chatTemplate),
    generation: folder.generation,
    vocabSize: folder.config.vocabSize,
    created: Math.floor(Date.now() / 1000),
    summary: folder.summary,
  };
}
