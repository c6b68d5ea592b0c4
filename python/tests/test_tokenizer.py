"""Tokenizer ids equal `lorabert tokenize`'s (itself checked against HF tokenizers elsewhere)."""
import json

import pytest

import lorabert
from conftest import SEEDS, need, run_cli


@pytest.fixture
def tok(tiny):
    need("lb_tokenizer_open", "lb_tokenizer_encode")
    with lorabert.Tokenizer(tiny[0]) as t:
        yield t


def cli_tokenize(cli, model, texts, *opts):
    out = run_cli(cli, "tokenize", "--model", model, *opts, stdin="\n".join(texts) + "\n").stdout
    return [json.loads(line) for line in out.splitlines()]


def test_ids_and_tokens_equal_cli(cli, tiny, tok):
    want = cli_tokenize(cli, tiny[0], SEEDS)
    assert [tok.encode(t) for t in SEEDS] == [w["input_ids"] for w in want]
    assert [tok.convert_ids_to_tokens(tok.encode(t)) for t in SEEDS] == [w["tokens"] for w in want]
    assert tok.encode("It was good.") == [101, 1, 2, 3, 19, 102]


def test_truncation_equals_cli(cli, tiny, tok):
    for side in ("right", "left"):
        want = cli_tokenize(cli, tiny[0], SEEDS, "--max-length", "5", "--truncation", side)
        assert [tok.encode(t, max_length=5, truncation_side=side) for t in SEEDS] == [w["input_ids"] for w in want]
    assert tok.encode(SEEDS[3], max_length=5) != tok.encode(SEEDS[3], max_length=5, truncation_side="left")


def test_pair_and_call(tok):
    enc = tok("It was good.", text_pair="Not a fan.")
    ids = enc["input_ids"]
    assert ids[0] == 101 and ids.count(102) == 2
    first = ids.index(102) + 1
    assert enc["token_type_ids"] == [0] * first + [1] * (len(ids) - first)
    assert enc["attention_mask"] == [1] * len(ids)
    assert tok.encode("It was good.", add_special_tokens=False) == [1, 2, 3, 19]


def test_vocab(tok):
    assert tok.vocab_size == 120
    assert tok.convert_tokens_to_ids(["[CLS]", "good", "nope"]) == [101, 3, -1]
    assert tok.convert_ids_to_tokens(102) == "[SEP]"
    assert tok.convert_ids_to_tokens(10 ** 6) is None
    assert tok.model_max_length > 0
