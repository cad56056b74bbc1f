"""The rebuilt tokenizer reproduces the published Qwen token ids."""

from __future__ import annotations


def test_published_ids(reranker):
    tok = reranker.checkpoint.tokenizer
    vocab = tok.get_vocab()
    assert (vocab["yes"], vocab["no"], vocab["assistant"]) == (9693, 2152, 77091)
    assert tok("Hello, world!", add_special_tokens=False)["input_ids"] == [9707, 11, 1879, 0]
    assert tok("<|im_start|>system\nYou", add_special_tokens=False)["input_ids"] == [151644, 8948, 198, 2610]
    assert tok.convert_tokens_to_ids(["<|image_pad|>", "<|video_pad|>", "</think>"]) == [
        151655,
        151656,
        151668,
    ]
    assert (tok.pad_token_id, tok.eos_token_id) == (151643, 151645)
    assert len(tok) == 151669
