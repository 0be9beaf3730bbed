"""Make the vLLM test model locally (never downloaded): a tiny random Llama and its tokenizer.

Run with the vLLM environment's python (it has torch, transformers and tokenizers):

    python make_tiny_llama.py OUT_DIR

hidden 64, 2 layers, head_dim 32 (smaller head dims crash vLLM's CPU attention), a byte-level
BPE tokenizer trained on a few lines, and a chat template. Seeded, so the same files each time.
"""

from __future__ import annotations

import sys
from pathlib import Path

LINES = [
    "The quick brown fox jumps over the lazy dog.",
    "Monitoring an inference server means counting tokens, requests and latency.",
    "What colour is the sky? The sky is blue.",
    "Name a fruit. An apple is a fruit.",
    "Prometheus scrapes the exporter, Grafana shows it, Alertmanager pages from it.",
    "system user assistant hello world ok yes no",
]
CHAT_TEMPLATE = (
    "{% for m in messages %}<|{{ m['role'] }}|>{{ m['content'] }}</s>{% endfor %}"
    "{% if add_generation_prompt %}<|assistant|>{% endif %}"
)


def main(out: Path) -> None:
    import torch
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import LlamaConfig, LlamaForCausalLM, PreTrainedTokenizerFast

    torch.manual_seed(0)
    out.mkdir(parents=True, exist_ok=True)
    special = ["<unk>", "<s>", "</s>", "<|system|>", "<|user|>", "<|assistant|>"]
    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=512, special_tokens=special, initial_alphabet=pre_tokenizers.ByteLevel.alphabet()
    )
    tok.train_from_iterator(LINES, trainer)
    fast = PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", bos_token="<s>", eos_token="</s>", model_max_length=512
    )
    fast.chat_template = CHAT_TEMPLATE
    fast.save_pretrained(out)

    config = LlamaConfig(
        vocab_size=len(fast),
        hidden_size=64,
        intermediate_size=128,
        num_hidden_layers=2,
        num_attention_heads=2,
        num_key_value_heads=2,
        head_dim=32,
        max_position_embeddings=512,
        bos_token_id=fast.bos_token_id,
        eos_token_id=fast.eos_token_id,
        torch_dtype="float32",
    )
    LlamaForCausalLM(config).save_pretrained(out, safe_serialization=True)
    print(out)


if __name__ == "__main__":
    main(Path(sys.argv[1]))
