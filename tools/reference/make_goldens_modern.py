#!/usr/bin/env python3
"""Writes lorabert's ModernBERT golden cases with the SECOND pinned stack (transformers 4.48.3, PEFT 0.14.0:
ModernBertForSequenceClassification first exists in transformers 4.48):
    PY=$(bash tools/reference/setup_env_modern.sh)
    $PY tools/reference/make_goldens_modern.py [--out tests/golden] [--case NAME ...]       # small, committed
    $PY tools/reference/make_goldens_modern.py --full --out DIR                               # full_goldens.sh
Same layout as make_goldens.py (golden_lib.gen_case; tools/reference/README.md). The model runs with
attn_implementation="eager" (padded batch, additive finfo.min masks, no unpadding); each case also checks
that the "sdpa" path gives the same logits within 1e-5. Output is byte-identical on rerun."""
import argparse
import os
import sys
import time

if os.environ.get("PYTHONHASHSEED") != "0":
    os.environ["PYTHONHASHSEED"] = "0"
    os.execv(sys.executable, [sys.executable] + sys.argv)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import golden_lib as gl  # noqa: E402
import torch  # noqa: E402
import transformers  # noqa: E402

if "modernbert" not in gl.ARCHS:
    sys.exit(f"make_goldens_modern.py: transformers {transformers.__version__} has no ModernBERT; run it with "
             "the python printed by tools/reference/setup_env_modern.sh")

# Tiny ModernBERT trunks: 3 layers, a global layer every 2nd (layers 0 and 2 global, layer 1 local), a
# sliding window of 8 (+-4 tokens) under sequences of up to 24 tokens, bpe_modernbert's vocabulary;
# every bias off as in ModernBERT-base (attention_bias, mlp_bias, norm_bias, classifier_bias false).
TOKENIZER = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "golden", "tokenizers",
                         "bpe_modernbert", "tokenizer.json")
# vocab_size 901: the vocabulary of tests/golden/tokenizers/bpe_modernbert (900 + "<br />"), whose [PAD] is 3
TINY = dict(vocab_size=901, hidden_size=32, intermediate_size=24, num_hidden_layers=3, num_attention_heads=4,
            max_position_embeddings=64, initializer_range=0.2, global_attn_every_n_layers=2, local_attention=8,
            pad_token_id=3, bos_token_id=1, eos_token_id=2, cls_token_id=1, sep_token_id=2)
EAGER = dict(attn_implementation="eager")

SMALL_CASES = [
    # cls pooling, exact-erf GELU everywhere, LoRA on every linear of the blocks ("Wo" is attn.Wo and mlp.Wo)
    dict(name="modernbert_tiny", arch="modernbert", num_labels=2, targets=["Wqkv", "Wi", "Wo"], seed=1101,
         perturb=0.1, hidden=True, load_kwargs=EAGER, cfg=dict(TINY), tokenizer=TOKENIZER,
         fwd_lengths=[24, 9, 1, 17, 5], grad_lengths=[6, 24, 13, 1, 20]),
    # mean pooling over the real tokens, tanh-GELU in the MLP, tanh-GELU head, other rope thetas and eps
    dict(name="modernbert_mean", arch="modernbert", num_labels=3, targets=["attn.Wqkv", "mlp.Wo"], seed=1102,
         perturb=0.1, hidden=True, load_kwargs=EAGER, tokenizer=TOKENIZER,
         cfg=dict(TINY, classifier_pooling="mean", hidden_activation="gelu_pytorch_tanh",
                  classifier_activation="gelu_pytorch_tanh", global_rope_theta=50000.0, local_rope_theta=500.0,
                  norm_eps=1e-6),
         fwd_lengths=[11, 24, 1, 4, 19], grad_lengths=[24, 2, 15, 9, 1]),
]

MODERN_SPECIALS = dict(unk_token="[UNK]", cls_token="[CLS]", sep_token="[SEP]", pad_token="[PAD]",
                       mask_token="[MASK]")
# The HF Trainer (4.48.3) on modernbert_tiny's model: 202 IMDb rows, 64 tokens (left truncation), 2 epochs of
# batch 4 = 102 steps, LoRA on every block linear (every dropout of the model is 0).
TRAJ_CASES = [
    dict(name="modernbert_tiny", seed=2101, n_rows=202, epochs=2, max_length=64, batch_size=4, reuse_model=True,
         tokenizer_json=True, specials=MODERN_SPECIALS, load_kwargs=EAGER, targets=["Wqkv", "Wi", "Wo"]),
]

# Full size (CI, tools/reference/full_goldens.sh): random-init ModernBERT-base (answerdotai/ModernBERT-base's
# config.json, written out here: no hub; 149M parameters, 22 layers, local_attention 128 = +-64 tokens, a global
# layer every 3rd), forward on rows of 512/1/137/300 tokens (longer than the window), LoRA on Wqkv and mlp.Wo
# grads. No full-size trajectory: transformers' eager ModernBERT-base took ~100 s per 4 x 128-token step on the
# shared 2-core machine (10 steps in 1005 s), far beyond full_goldens.sh's budget; the 102-step trajectory is
# checked on modernbert_tiny.
MODERNBERT_BASE = dict(vocab_size=50368, hidden_size=768, intermediate_size=1152, num_hidden_layers=22,
                       num_attention_heads=12, hidden_activation="gelu", max_position_embeddings=8192,
                       initializer_range=0.02, initializer_cutoff_factor=2.0, norm_eps=1e-5, norm_bias=False,
                       pad_token_id=50283, eos_token_id=50282, bos_token_id=50281, cls_token_id=50281,
                       sep_token_id=50282, global_rope_theta=160000.0, attention_bias=False, attention_dropout=0.0,
                       global_attn_every_n_layers=3, local_attention=128, local_rope_theta=10000.0,
                       embedding_dropout=0.0, mlp_bias=False, mlp_dropout=0.0, decoder_bias=True,
                       classifier_pooling="mean", classifier_dropout=0.0, classifier_bias=False,
                       classifier_activation="gelu")
FULL_CASES = [
    dict(name="modernbert_base", arch="modernbert", num_labels=2, targets=["Wqkv", "mlp.Wo"], seed=3101,
         perturb=0.0, load_kwargs=EAGER, tokenizer=TOKENIZER, cfg=MODERNBERT_BASE,
         fwd_lengths=[512, 1, 137, 300], grad_lengths=[77, 512, 1, 260]),
]
FULL_TRAJ = []


def check_sdpa(d, case):
    """The eager golden must equal transformers' default (sdpa) path on the same inputs."""
    from safetensors.torch import load_file
    fwd = load_file(os.path.join(d, "forward.safetensors"))
    m = transformers.AutoModelForSequenceClassification.from_pretrained(os.path.join(d, "model"),
                                                                       attn_implementation="sdpa").eval()
    with torch.no_grad():
        lg = m(input_ids=fwd["input_ids"], attention_mask=fwd["attention_mask"]).logits
    diff = (lg - fwd["logits"]).abs().max().item()
    if diff > 1e-5:
        raise RuntimeError(f"{case['name']}: sdpa logits differ from eager by {diff}")
    return diff


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default=os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..",
                                                  "tests", "golden"))
    ap.add_argument("--case", action="append", help="only these case names")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--full", action="store_true", help="the full-size modernbert_base case instead of the small ones")
    a = ap.parse_args()
    torch.set_num_threads(a.threads or ((os.cpu_count() or 1) if a.full else 1))
    cases, trajs = (FULL_CASES, FULL_TRAJ) if a.full else (SMALL_CASES, TRAJ_CASES)
    for c in cases:
        if a.case and c["name"] not in a.case:
            continue
        t = time.time()
        d = gl.gen_case(a.out, c)
        diff = check_sdpa(d, c)
        print(f"{d}: {time.time() - t:.1f}s (sdpa vs eager {diff:.1e})", flush=True)
    for c in trajs:
        if a.case and c["name"] not in a.case:
            continue
        t = time.time()
        d = gl.gen_trajectory(a.out, c)
        print(f"{d}/trajectory: {time.time() - t:.1f}s", flush=True)


if __name__ == "__main__":
    main()
