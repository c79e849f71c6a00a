#!/usr/bin/env python3
"""Write tokenizer_config.json beside the trained tokenizer.json, and record the Python encoder's ids
for a set of sample strings in test/fixtures/builtin-tokenizer-samples.json, which
test/builtin-model.test.ts compares against @huggingface/tokenizers.

Usage: python3 scripts/pretrain/tokenizer_files.py
"""
import json
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
from bpe import EOT, Tokenizer  # noqa: E402
from train import CONFIG, MODEL_DIR  # noqa: E402

ROOT = os.path.join(HERE, "..", "..")

# role-prefixed turns; the assistant turn ends with the end-of-text token so a fine-tuned model
# learns to stop. add_generation_prompt leaves "Assistant:" open for the model to continue.
CHAT_TEMPLATE = (
    "{% for message in messages %}"
    "{% if message['role'] == 'system' %}{{ message['content'] }}\n\n"
    "{% elif message['role'] == 'user' %}User: {{ message['content'] }}\n"
    "{% elif message['role'] == 'assistant' %}Assistant: {{ message['content'] }}{{ eos_token }}\n"
    "{% endif %}{% endfor %}"
    "{% if add_generation_prompt %}Assistant:{% endif %}"
)

SAMPLES = [
    "The jury said it did find that many of Georgia's registration and election laws are outmoded.",
    "Hello world",
    " leading space and trailing space ",
    "Numbers: 1961, 3.14159 and $2,500,000; 42nd Street.",
    "Contractions: don't, I'm, you're, we've, they'll, he'd, it's -- and 'quoted' words.",
    "Line one.\nLine two.\n\n  Indented line\twith a tab.\n",
    "Multiple     spaces   here",
    "Accents: café, naïve, Zürich, São Paulo; Greek: αβγ; Chinese: 你好; emoji: 🙂👍",
    "before<|endoftext|>after",
    "<|endoftext|>The first sentence of a document.",
    'He said, "Only a relative handful of such reports was received."',
    "UPPER CASE TEXT and MiXeD cAsE",
    "",
    "User: What is the capital of France?\nAssistant: Paris.<|endoftext|>\n",
]


def main():
    tok = Tokenizer.load(os.path.join(MODEL_DIR, "tokenizer.json"))
    cfg = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "bos_token": EOT,
        "eos_token": EOT,
        "pad_token": EOT,
        "unk_token": None,
        "add_bos_token": False,
        "add_eos_token": False,
        "clean_up_tokenization_spaces": False,
        "model_max_length": CONFIG["max_position_embeddings"],
        "chat_template": CHAT_TEMPLATE,
        "added_tokens_decoder": {
            str(tok.vocab[EOT]): {
                "content": EOT,
                "lstrip": False,
                "normalized": False,
                "rstrip": False,
                "single_word": False,
                "special": True,
            }
        },
    }
    with open(os.path.join(MODEL_DIR, "tokenizer_config.json"), "w", encoding="utf-8") as f:
        json.dump(cfg, f, indent=2, ensure_ascii=False)
        f.write("\n")
    rows = []
    for s in SAMPLES:
        ids = tok.encode(s)
        assert tok.decode(ids) == s, s
        rows.append({"text": s, "ids": ids})
    out = os.path.join(ROOT, "test", "fixtures", "builtin-tokenizer-samples.json")
    with open(out, "w", encoding="utf-8") as f:
        f.write('{\n "tokenizer": "public/models/tiny-llama-brown/tokenizer.json",\n "samples": [\n')
        f.write(",\n".join("  " + json.dumps(r, ensure_ascii=False) for r in rows))
        f.write("\n ]\n}\n")
    print(f"wrote tokenizer_config.json and {len(rows)} samples")


if __name__ == "__main__":
    main()
