#!/usr/bin/env bash
# examples/ built as an embedder would: `make install` into a temporary PREFIX, then
# examples/Makefile with PKG_CONFIG_PATH pointing there (the installed header and
# `pkg-config --cflags --libs lorabert` only; also --static). classify (the seed's five
# sentences, tiny DistilBERT of tests/golden + its LoRA adapter) prints the same probability
# strings (%.9g) as `lorabert predict --json`; train runs one epoch and its adapter classifies
# like the CLI with it. In an ASan build the examples are built with the sanitizers too.
set -u
source "$(dirname "$0")/../support/cli_base.sh" ex
MODE=$(basename "$(dirname "$LB")")
P=$T/prefix
make -s -j2 MODE="$MODE" install PREFIX="$P" >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "make install"; }
export PKG_CONFIG_PATH=$P/lib/pkgconfig LD_LIBRARY_PATH=$P/lib
extra=(); [ "$MODE" = asan ] && extra=(CFLAGS="-fsanitize=address,undefined -fno-sanitize-recover=all" LDFLAGS="-fsanitize=address,undefined")

# A function the header declares that the library does not implement yet is a skip naming it
# (tests/cli/library.sh fails on it): the examples cannot link without it.
have() { nm -D --defined-only "$P/lib/liblorabert.so" | awk '{print $NF}' | grep -qx "$1"; }
for f in lb_classifier_open lb_classify lb_classifier_label lb_classifier_num_labels lb_classifier_close; do
  have $f || { echo "skip: liblorabert does not export $f yet (examples/classify.c needs it)"; exit 77; }
done

for kind in shared static; do
  mkdir -p "$T/$kind" && cp examples/*.c examples/Makefile "$T/$kind/"
  st=(); [ $kind = static ] && st=(STATIC=1)
  make -s -C "$T/$kind" "${st[@]}" "${extra[@]}" classify >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "$kind build of classify.c"; }
done
ldd "$T/shared/classify" | grep -q "$P/lib/liblorabert.so.0 " || fail "classify is not linked to the installed library: $(ldd "$T/shared/classify")"
ldd "$T/static/classify" | grep -q liblorabert && fail "the static classify links liblorabert.so"

M=$T/model; mkdir "$M" && cp tests/golden/distilbert_tiny/model/* "$M/"
{ echo '[PAD]'; for w in it was good not a fan , don "'" t rec '##om' '##med' better than the first one . this is worth \
    watching even once pass; do echo "$w"; done; for i in $(seq 26 98); do echo "[unused$i]"; done
  printf '[UNK]\n[CLS]\n[SEP]\n[MASK]\n'; for i in $(seq 99 114); do echo "[unused$i]"; done; } >"$M/vocab.txt"
[ "$(wc -l <"$M/vocab.txt")" -eq 120 ] || fail "vocab size"
A=tests/golden/distilbert_tiny/lora
seeds=("It was good." "Not a fan, don't recommed." "Better than the first one." \
       "This is not worth watching even once." "This one is a pass.")

# compare_with_cli OUT ADAPTER: classify's lines equal `lorabert predict --json`'s label + probs strings
compare_with_cli() {
  "$P/bin/lorabert" predict --json --model "$M" --adapter "$2" "${seeds[@]}" >"$T/cli.json" || fail "lorabert predict"
  python3 - "$1" "$T/cli.json" <<'PY' || fail "classify differs from lorabert predict"
import json, re, sys
ours = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])]
cli = [l for l in open(sys.argv[2])]
assert len(ours) == len(cli) == 5, (ours, cli)
for (label, probs, text), line in zip(ours, cli):
    want = [s.strip() for s in re.search(r'"probs":\s*\[([^\]]*)\]', line).group(1).split(",")]
    assert (label, probs.split(" ")) == (json.loads(line)["label"], want), (label, probs, line)
print("classify == lorabert predict:", [p for _, p, _ in ours])
PY
}
"$T/shared/classify" "$M" "$A" >"$T/shared.out" || fail "classify (shared)"
cat "$T/shared.out"
compare_with_cli "$T/shared.out" "$A"
"$T/static/classify" "$M" "$A" >"$T/static.out" || fail "classify (static)"
cmp -s "$T/shared.out" "$T/static.out" || fail "static and shared classify differ"
"$T/shared/classify" "$M" "$T/nonexistent" 2>"$T/err"; rc=$?
[ $rc -eq 3 ] && grep -q '^classify: .*nonexistent' "$T/err" || fail "missing adapter: rc=$rc $(cat "$T/err")"

for f in lb_model_open lb_model_add_adapter lb_dataset_open lb_train_options_init lb_train_run_open \
         lb_train_run_all lb_train_run_close lb_model_save_adapter; do
  have $f || { echo "classify: ok; skip train.c: liblorabert does not export $f yet"; exit 77; }
done
make -s -C "$T/shared" "${extra[@]}" train >"$T/make.log" 2>&1 || { cat "$T/make.log"; fail "build of train.c"; }
{ echo "label,text"; for i in 0 1 2 3; do printf '1,"It was good."\n0,"Not a fan, don'"'"'t recommed."\n1,"Better than the first one."\n0,"This is not worth watching even once."\n'; done; } >"$T/train.csv"
head -n 5 "$T/train.csv" >"$T/val.csv"
"$T/shared/train" "$M" "$T/train.csv" "$T/val.csv" "$T/adapter" 1 32 >"$T/train.out" 2>&1 || fail "train: $(cat "$T/train.out")"
cat "$T/train.out"
grep -q '^Epoch  Training Loss  Validation Loss  Accuracy  Precision  Recall  F1$' "$T/train.out" || fail "table header"
grep -Eq '^ +1 +No log +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+ +[0-9.]+  \*$' "$T/train.out" || fail "epoch 1 row"
grep -q "^adapter saved to $T/adapter$" "$T/train.out" || fail "save line"
[ -f "$T/adapter/adapter_config.json" ] && [ -f "$T/adapter/adapter_model.safetensors" ] || fail "adapter files"
cmp -s "$A/adapter_model.safetensors" "$T/adapter/adapter_model.safetensors" && fail "trained adapter equals the golden one"
# the same recipe through the CLI trains the same weights, byte for byte
"$P/bin/lorabert" train --model "$M" --train "$T/train.csv" --validation "$T/val.csv" --epochs 1 --max-length 32 \
  --output "$T/cli_out" >"$T/cli_train.out" 2>&1 || fail "lorabert train: $(cat "$T/cli_train.out")"
cmp -s "$T/cli_out/adapter_model.safetensors" "$T/adapter/adapter_model.safetensors" || fail "train.c and lorabert train differ"
"$T/shared/classify" "$M" "$T/adapter" >"$T/trained.out" || fail "classify with the trained adapter"
compare_with_cli "$T/trained.out" "$T/adapter"
echo "examples: ok"
