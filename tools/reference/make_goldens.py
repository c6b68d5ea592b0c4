#!/usr/bin/env python3
"""Writes lorabert's golden files with the pinned HF stack (run with the ref env's python):
    PY=$(bash tools/reference/setup_env.sh)
    $PY tools/reference/make_goldens.py [--out tests/golden] [--case NAME ...]   # small, committed cases
    $PY tools/reference/make_goldens.py --full --out DIR [--real-model DIR]       # full size (full_goldens.sh)
Layout and meaning of every file: tools/reference/README.md. Output is byte-identical on rerun
(single torch thread for the small cases, PYTHONHASHSEED fixed so PEFT's target_modules set is ordered)."""
import argparse
import os
import sys
import time

if os.environ.get("PYTHONHASHSEED") != "0":
    # adapter_config.json lists target_modules from a Python set: fix string hashing for stable bytes.
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_lib as gl  # noqa: E402
import torch  # noqa: E402

TOKENIZERS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "tokenizers")
TINY_TRUNK = dict(vocab_size=120, max_position_embeddings=64, initializer_range=0.2)

SMALL_CASES = [
    dict(name="distilbert_tiny", arch="distilbert", num_labels=2, targets=["q_lin"], seed=1001, perturb=0.1, hidden=True,
         cfg=dict(TINY_TRUNK, dim=32, n_heads=4, n_layers=2, hidden_dim=64),
         fwd_lengths=[40, 1, 17, 33, 8], grad_lengths=[23, 40, 1, 5, 12]),
    dict(name="distilbert_tiny_all", arch="distilbert", num_labels=3, seed=1002, perturb=0.1, hidden=True,
         targets=["q_lin", "k_lin", "v_lin", "out_lin", "lin1", "lin2"],
         cfg=dict(TINY_TRUNK, dim=24, n_heads=3, n_layers=3, hidden_dim=40),
         fwd_lengths=[9, 40, 1, 26, 3], grad_lengths=[1, 31, 40, 7, 18]),
    dict(name="bert_tiny", arch="bert", num_labels=2, targets=["query", "value"], seed=1003, perturb=0.1, hidden=True,
         cfg=dict(TINY_TRUNK, hidden_size=32, num_attention_heads=4, num_hidden_layers=2, intermediate_size=64,
                  type_vocab_size=2),
         fwd_lengths=[40, 12, 1, 29, 6], grad_lengths=[3, 40, 19, 1, 35]),
    # the multi-label (BCEWithLogitsLoss over float multi-hot labels) and regression (MSELoss of the squeezed
    # single output; config.json without problem_type) losses' gradients through the whole model
    dict(name="distilbert_tiny_multilabel", arch="distilbert", num_labels=3, targets=["q_lin", "v_lin"], seed=1006,
         perturb=0.1, problem_type="multi_label_classification",
         cfg=dict(TINY_TRUNK, dim=32, n_heads=4, n_layers=2, hidden_dim=64),
         fwd_lengths=[40, 1, 17, 33, 8], grad_lengths=[23, 40, 1, 5, 12]),
    dict(name="bert_tiny_regression", arch="bert", num_labels=1, targets=["query", "value"], seed=1007,
         perturb=0.1, problem_type="regression",
         cfg=dict(TINY_TRUNK, hidden_size=32, num_attention_heads=4, num_hidden_layers=2, intermediate_size=64,
                  type_vocab_size=2),
         fwd_lengths=[40, 12, 1, 29, 6], grad_lengths=[3, 40, 19, 1, 35]),
    # RoBERTa / XLM-R: the vocabularies of the trained tokenizer files (tests/golden/tokenizers), positions
    # from pad_token_id + 1 (max_position_embeddings 66 = 64 tokens), one token type, every dropout 0 so the
    # same model also serves the 100-step trajectory (forward/grads run in eval mode anyway).
    dict(name="roberta_tiny", arch="roberta", num_labels=2, targets=["query", "value"], seed=1004, perturb=0.1,
         hidden=True, tokenizer=os.path.join(TOKENIZERS, "bpe_roberta", "tokenizer.json"),
         cfg=dict(vocab_size=1201, max_position_embeddings=66, initializer_range=0.2, hidden_size=32,
                  num_attention_heads=4, num_hidden_layers=2, intermediate_size=64, type_vocab_size=1,
                  pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0),
         fwd_lengths=[40, 12, 1, 29, 6], grad_lengths=[3, 40, 19, 1, 35]),
    dict(name="xlmr_tiny", arch="xlm-roberta", num_labels=3, seed=1005, perturb=0.1, hidden=True,
         targets=["query", "key", "value", "intermediate.dense", "output.dense"],
         tokenizer=os.path.join(TOKENIZERS, "xlmr_spm", "tokenizer.json"),
         cfg=dict(vocab_size=1502, max_position_embeddings=66, initializer_range=0.2, hidden_size=24,
                  num_attention_heads=3, num_hidden_layers=3, intermediate_size=40, type_vocab_size=1,
                  pad_token_id=1, bos_token_id=0, eos_token_id=2, layer_norm_eps=1e-5, hidden_dropout_prob=0.0,
                  attention_probs_dropout_prob=0.0),
         fwd_lengths=[9, 40, 1, 26, 3], grad_lengths=[1, 31, 40, 7, 18]),
]

TRAJ_CASES = [
    dict(name="distilbert_traj", seed=2001, n_rows=202, epochs=2, max_length=128, batch_size=4,
         cfg=dict(vocab_size=30522, max_position_embeddings=128, initializer_range=0.2, dim=16, n_heads=2, n_layers=2, hidden_dim=32,
                  dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)),
    # gradient accumulation (K = 2): 50 micro-batches per epoch (the last of 2 rows), 25 steps each
    dict(name="distilbert_traj_accum", seed=2002, n_rows=198, epochs=3, max_length=128, batch_size=4, grad_accum=2,
         cfg=dict(vocab_size=30522, max_position_embeddings=128, initializer_range=0.2, dim=16, n_heads=2, n_layers=2,
                  hidden_dim=32, dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)),
    # --label-smoothing-factor 0.2 (HF's LabelSmoother), 50 steps per epoch, then evaluate() on 18 rows
    dict(name="distilbert_traj_smooth", seed=2003, n_rows=200, epochs=2, max_length=128, batch_size=4,
         label_smoothing=0.2, eval_rows=18,
         cfg=dict(vocab_size=30522, max_position_embeddings=128, initializer_range=0.2, dim=16, n_heads=2, n_layers=2,
                  hidden_dim=32, dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)),
    # --class-weights 0.4,1.6 (torch CrossEntropyLoss(weight=...) in compute_loss), then evaluate() on 18 rows
    dict(name="distilbert_traj_cw", seed=2004, n_rows=200, epochs=2, max_length=128, batch_size=4,
         class_weights=[0.4, 1.6], eval_rows=18,
         cfg=dict(vocab_size=30522, max_position_embeddings=128, initializer_range=0.2, dim=16, n_heads=2, n_layers=2,
                  hidden_dim=32, dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)),
    # problem_type multi_label_classification (3 labels, BCEWithLogitsLoss) and regression (1 output,
    # MSELoss; config.json without problem_type: HF infers it from num_labels 1), then evaluate() on 18 rows
    dict(name="distilbert_traj_multilabel", seed=2005, n_rows=200, epochs=2, max_length=128, batch_size=4,
         problem_type="multi_label_classification", eval_rows=18,
         cfg=dict(vocab_size=30522, max_position_embeddings=128, initializer_range=0.2, dim=16, n_heads=2, n_layers=2,
                  hidden_dim=32, dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)),
    dict(name="distilbert_traj_regression", seed=2006, n_rows=200, epochs=2, max_length=128, batch_size=4,
         problem_type="regression", eval_rows=18,
         cfg=dict(vocab_size=30522, max_position_embeddings=128, initializer_range=0.2, dim=16, n_heads=2, n_layers=2,
                  hidden_dim=32, dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)),
    # on the small cases' models and their tokenizer.json files; 64 tokens (left truncation), 102 steps
    dict(name="roberta_tiny", seed=2003, n_rows=202, epochs=2, max_length=64, batch_size=4, reuse_model=True,
         tokenizer_json=True, targets=["query", "value"]),
    dict(name="xlmr_tiny", seed=2004, n_rows=202, epochs=2, max_length=64, batch_size=4, reuse_model=True,
         tokenizer_json=True, targets=["query", "key", "value", "intermediate.dense", "output.dense"]),
]

def full_cases():
    import json
    with open(os.path.join(gl.shared_dir(), "data", "tokenizer", "config.distilbert-base-uncased.json")) as f:
        base = json.load(f)
    keep = ["activation", "attention_dropout", "dim", "dropout", "hidden_dim", "initializer_range",
            "max_position_embeddings", "n_heads", "n_layers", "pad_token_id", "qa_dropout",
            "seq_classif_dropout", "sinusoidal_pos_embds", "tie_weights_", "vocab_size"]
    # One model serves forward, grads and the trajectory, so every dropout is 0 (forward/grads are
    # eval-mode anyway; the trajectory must be dropout-free to be reproducible in C).
    cfg = {k: base[k] for k in keep if k in base}
    cfg.update(dropout=0.0, attention_dropout=0.0, seq_classif_dropout=0.0)
    case = dict(name="distilbert_base", arch="distilbert", num_labels=2, targets=["q_lin"], seed=3001,
                perturb=0.0, vocab=True, cfg=cfg,
                fwd_lengths=[512, 1, 137, 300], grad_lengths=[77, 512, 1, 260])
    traj = dict(name="distilbert_base", seed=3002, n_rows=200, epochs=2, max_length=512, batch_size=4,
                reuse_model=True, progress=10, cfg=cfg)
    return [case] + roberta_full_cases(), [traj]


def roberta_full_cases():
    """Random-init roberta-base and xlm-roberta-base: their published configs (written out here: no hub),
    every dropout 0. XLM-R keeps the real 250002-token vocabulary (768 MB of word embeddings, 1.1 GB of
    weights): the size is the point of the check (loading, memory, the embedding gather).
    LoRA on value only (+ the head): at HF's initializer_range 0.02 the 12 random layers attend almost
    uniformly, and the query adapters' gradients cancel down to f32 resolution: transformers' own f32
    gradient of roberta-base's layer-11 query lora_A is 1.6e-3 (max|diff| / max|ref|) from float64,
    so no f32 port can meet a 1e-4 bar against it (measured; a larger initializer_range saturates the
    attention and is worse). The query adapters' gradients are checked on roberta_tiny / xlmr_tiny."""
    roberta = dict(vocab_size=50265, hidden_size=768, num_hidden_layers=12, num_attention_heads=12,
                   intermediate_size=3072, hidden_act="gelu", max_position_embeddings=514, type_vocab_size=1,
                   initializer_range=0.02, layer_norm_eps=1e-5, pad_token_id=1, bos_token_id=0, eos_token_id=2,
                   hidden_dropout_prob=0.0, attention_probs_dropout_prob=0.0)
    lengths = dict(fwd_lengths=[512, 1, 137, 300], grad_lengths=[77, 512, 1, 260])
    return [dict(name="roberta_base", arch="roberta", num_labels=2, targets=["value"], seed=3003,
                 perturb=0.0, cfg=roberta, **lengths),
            dict(name="xlmr_base", arch="xlm-roberta", num_labels=3, targets=["value"], seed=3004,
                 perturb=0.0, cfg=dict(roberta, vocab_size=250002), **lengths)]


def real_cases(src):
    """The real pretrained checkpoint laid out by real_model.sh (all-MiniLM-L6-v2 + a seeded head):
    the same forward/grads/trajectory checks as distilbert_base, with PEFT's BERT targets."""
    case = dict(name="minilm_real", arch="bert", num_labels=2, targets=["query", "value"], seed=4001, source=src,
                fwd_lengths=[512, 1, 137, 300], grad_lengths=[77, 512, 1, 260])
    traj = dict(name="minilm_real", seed=4002, n_rows=200, epochs=2, max_length=512, batch_size=4,
                reuse_model=True, progress=10, targets=["query", "value"], source=src)
    return [case], [traj]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                  "tests", "golden"))
    ap.add_argument("--case", action="append", help="only these case names")
    ap.add_argument("--full", action="store_true", help="full-size distilbert_base case instead of the small ones")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--real-model", help="with --full: also the minilm_real case from this folder (real_model.sh)")
    a = ap.parse_args()
    if a.full:
        cases, trajs = full_cases()
        if a.real_model:
            rc, rt = real_cases(os.path.abspath(a.real_model))
            cases, trajs = cases + rc, trajs + rt
        torch.set_num_threads(a.threads or os.cpu_count() or 1)
    else:
        cases, trajs = SMALL_CASES, TRAJ_CASES
        torch.set_num_threads(a.threads or 1)
    for c in cases:
        if a.case and c["name"] not in a.case:
            continue
        t = time.time()
        d = gl.gen_case(a.out, c)
        print(f"{d}: {time.time() - t:.1f}s", flush=True)
    for c in trajs:
        if a.case and c["name"] not in a.case:
            continue
        t = time.time()
        d = gl.gen_trajectory(a.out, c)
        print(f"{d}/trajectory: {time.time() - t:.1f}s", flush=True)


if __name__ == "__main__":
    main()
