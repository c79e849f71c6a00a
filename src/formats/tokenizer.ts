// Tokenizers: a Hugging Face `tokenizer.json` (+ `tokenizer_config.json`) behind one small
// TextTokenizer object (encode, decode, special ids, chat templates). Which ids the model's config
// falls back to, batching and padding are left to data/ and model/.
//
// Library choice: @huggingface/tokenizers (tokenizers.js 0.2), not @huggingface/transformers.
// It is the tokenizer half of transformers.js split out on its own: pure JS, no dependencies,
// ~650 KB unpacked against transformers' tens of MB (onnxruntime bundled), the same code in Node
// and the browser worker, and it reads tokenizer.json's normalizers, pre-tokenizers (ByteLevel with
// Oniguruma-compatible regexes), BPE/WordPiece/Unigram models, post-processors and decoders, which
// covers GPT-2, Llama and Qwen2 tokenizers. Chat templates go through @huggingface/jinja (the
// same renderer transformers.js uses, with raise_exception and strftime_now built in).
import { Template } from '@huggingface/jinja';
import { Tokenizer } from '@huggingface/tokenizers';
import { FormatError, isRecord, parseJsonText } from './errors';

export interface ChatMessage {
  role: string;
  content: string;
}

export interface ChatTemplateOptions {
  /** Append the assistant's turn header, as for generation (transformers' add_generation_prompt). */
  addGenerationPrompt?: boolean;
  /** Extra template variables (tools, documents, date_string...). */
  extra?: Record<string, unknown>;
}

export interface TextTokenizer {
  /** Largest id + 1 over the vocabulary and the added tokens. */
  readonly vocabSize: number;
  readonly bosId: number | null;
  readonly eosId: number | null;
  readonly padId: number | null;
  readonly bosToken: string | null;
  readonly eosToken: string | null;
  readonly padToken: string | null;
  readonly hasChatTemplate: boolean;
  /** Token ids of `text`; special tokens the post-processor adds (e.g. Llama's BOS) by default. */
  encode(text: string, opts?: { addSpecialTokens?: boolean }): number[];
  decode(ids: readonly number[], opts?: { skipSpecialTokens?: boolean }): string;
  tokenToId(token: string): number | null;
  idToToken(id: number): string | null;
  /** The conversation rendered by tokenizer_config.json's chat_template. */
  applyChatTemplate(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): string;
  /** applyChatTemplate then encode without added special tokens (the template writes them), as transformers does. */
  encodeChat(messages: readonly ChatMessage[], opts?: ChatTemplateOptions): number[];
}

export interface TokenizerFiles {
  /** tokenizer.json, as text or parsed. */
  tokenizerJson: unknown;
  /** tokenizer_config.json, as text or parsed; optional (no chat template, no named specials then). */
  tokenizerConfig?: unknown;
  /** A chat template that overrides tokenizer_config's (e.g. from a separate chat_template.jinja). */
  chatTemplate?: string;
  tokenizerFile?: string;
  configFile?: string;
}

/** Fallback special ids, normally from config.json (ModelConfig), used when tokenizer_config names none. */
export interface SpecialIdFallbacks {
  bosTokenId?: number | null;
  eosTokenIds?: readonly number[];
  padTokenId?: number | null;
}

// tokenizer_config.json writes special tokens as strings or as AddedToken objects {content, ...}.
function tokenString(v: unknown): string | null {
  if (typeof v === 'string') return v;
  if (isRecord(v) && typeof v.content === 'string') return v.content;
  return null;
}

function pickChatTemplate(cfg: Record<string, unknown>, file: string): string | null {
  const t = cfg.chat_template;
  if (t === undefined || t === null) return null;
  if (typeof t === 'string') return t;
  // Newer configs may hold several named templates: [{name, template}]; "default" is the chat one.
  if (Array.isArray(t)) {
    const named = t.filter(
      (x): x is { name: string; template: string } =>
        isRecord(x) && typeof x.name === 'string' && typeof x.template === 'string',
    );
    const chosen = named.find((x) => x.name === 'default') ?? named[0];
    if (chosen) return chosen.template;
  }
  throw new FormatError(
    file,
    'chat_template must be a string or a list of {name, template}',
    'chat_template',
  );
}

/** Loads a tokenizer; every problem with the files is a FormatError naming the file. */
export function loadTokenizer(files: TokenizerFiles, fallbacks: SpecialIdFallbacks = {}): TextTokenizer {
  const tokFile = files.tokenizerFile ?? 'tokenizer.json';
  const cfgFile = files.configFile ?? 'tokenizer_config.json';
  const tj =
    typeof files.tokenizerJson === 'string'
      ? parseJsonText(files.tokenizerJson, tokFile)
      : files.tokenizerJson;
  if (!isRecord(tj)) throw new FormatError(tokFile, 'must be a JSON object');
  if (!isRecord(tj.model) || typeof tj.model.type !== 'string') {
    throw new FormatError(
      tokFile,
      '"model" must be an object with a "type" (BPE, WordPiece, Unigram)',
      'model',
    );
  }
  if (tj.model.type === 'BPE' && (!isRecord(tj.model.vocab) || !Array.isArray(tj.model.merges))) {
    throw new FormatError(tokFile, 'a BPE model needs "vocab" (an object) and "merges" (a list)', 'model');
  }
  if (tj.added_tokens !== undefined && !Array.isArray(tj.added_tokens)) {
    throw new FormatError(tokFile, '"added_tokens" must be a list', 'added_tokens');
  }
  const rawCfg =
    files.tokenizerConfig === undefined || files.tokenizerConfig === null
      ? {}
      : typeof files.tokenizerConfig === 'string'
        ? parseJsonText(files.tokenizerConfig, cfgFile)
        : files.tokenizerConfig;
  if (!isRecord(rawCfg)) throw new FormatError(cfgFile, 'must be a JSON object');

  const bosToken = tokenString(rawCfg.bos_token);
  const eosToken = tokenString(rawCfg.eos_token);
  const padToken = tokenString(rawCfg.pad_token);
  const unkToken = tokenString(rawCfg.unk_token);
  // The library reads a few config fields; give it plain strings and an explicit cleanup choice.
  // transformers now defaults clean_up_tokenization_spaces to false; the library to true, which
  // would break decode(encode(s)) = s around punctuation.
  const libCfg = {
    ...rawCfg,
    bos_token: bosToken,
    eos_token: eosToken,
    pad_token: padToken,
    unk_token: unkToken,
    clean_up_tokenization_spaces: rawCfg.clean_up_tokenization_spaces === true,
  };
  const libJson = {
    normalizer: null,
    pre_tokenizer: null,
    post_processor: null,
    decoder: null,
    added_tokens: [],
    ...tj,
  };
  let tok: Tokenizer;
  try {
    tok = new Tokenizer(libJson, libCfg);
  } catch (e) {
    throw new FormatError(tokFile, `cannot be loaded: ${e instanceof Error ? e.message : String(e)}`);
  }

  let vocabSize = 0;
  for (const id of tok.get_vocab(true).values()) vocabSize = Math.max(vocabSize, id + 1);
  if (vocabSize === 0) throw new FormatError(tokFile, 'has an empty vocabulary', 'model');

  const idOf = (token: string | null, field: string): number | null => {
    if (token === null) return null;
    const id = tok.token_to_id(token);
    if (id === undefined) {
      throw new FormatError(cfgFile, `${field} "${token}" is not in ${tokFile}'s vocabulary`, field);
    }
    return id;
  };
  const bosId = idOf(bosToken, 'bos_token') ?? fallbacks.bosTokenId ?? null;
  const eosId = idOf(eosToken, 'eos_token') ?? fallbacks.eosTokenIds?.[0] ?? null;
  const padId = idOf(padToken, 'pad_token') ?? fallbacks.padTokenId ?? null;

  const templateText = files.chatTemplate ?? pickChatTemplate(rawCfg, cfgFile);
  let template: Template | null = null;
  const compiled = (): Template => {
    if (templateText === null) {
      throw new FormatError(
        cfgFile,
        'has no chat_template, so this model has no chat format',
        'chat_template',
      );
    }
    if (!template) {
      try {
        template = new Template(templateText);
      } catch (e) {
        throw new FormatError(
          cfgFile,
          `chat_template does not parse: ${e instanceof Error ? e.message : String(e)}`,
          'chat_template',
        );
      }
    }
    return template;
  };

  const encode = (text: string, opts: { addSpecialTokens?: boolean } = {}): number[] => {
    const enc = tok.encode(text, { add_special_tokens: opts.addSpecialTokens ?? true });
    for (let i = 0; i < enc.ids.length; i++) {
      // Without an unk token, a piece outside the vocabulary has no id; say which piece.
      if (typeof enc.ids[i] !== 'number') {
        throw new Error(
          `${tokFile}: cannot encode "${enc.tokens[i]}": not in the vocabulary and no unk_token`,
        );
      }
    }
    return enc.ids;
  };

  const applyChatTemplate = (messages: readonly ChatMessage[], opts: ChatTemplateOptions = {}): string => {
    const t = compiled();
    try {
      return t.render({
        ...opts.extra,
        messages,
        add_generation_prompt: opts.addGenerationPrompt ?? false,
        bos_token: bosToken ?? '',
        eos_token: eosToken ?? '',
        pad_token: padToken ?? '',
        unk_token: unkToken ?? '',
      });
    } catch (e) {
      throw new Error(`${cfgFile}: chat_template failed: ${e instanceof Error ? e.message : String(e)}`);
    }
  };

  return {
    vocabSize,
    bosId,
    eosId,
    padId,
    bosToken,
    eosToken,
    padToken,
    hasChatTemplate: templateText !== null,
    encode,
    decode(ids, opts = {}) {
      if (ids.length === 0) return '';
      for (const id of ids) {
        if (!Number.isInteger(id) || id < 0 || id >= vocabSize) {
          throw new RangeError(`decode: token id ${id} is outside the vocabulary [0, ${vocabSize})`);
        }
      }
      return tok.decode([...ids], { skip_special_tokens: opts.skipSpecialTokens ?? false });
    },
    tokenToId: (token) => tok.token_to_id(token) ?? null,
    idToToken: (id) => tok.id_to_token(id) ?? null,
    applyChatTemplate,
    encodeChat: (messages, opts) => encode(applyChatTemplate(messages, opts), { addSpecialTokens: false }),
  };
}
