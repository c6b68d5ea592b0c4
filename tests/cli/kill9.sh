#!/usr/bin/env bash
# Crash safety: `lorabert merge` writes a 2 MB model.safetensors (+ config.json) through
# lb_atomic_* (temp file, fsync, rename). It is killed with SIGKILL at random moments, 24
# times, over an output folder that holds an older complete model (even rounds) or nothing
# (odd rounds). After every kill each destination file must be absent, the old complete file
# or the new complete file, byte for byte, never torn; `lorabert info` must load the folder
# whenever both files exist; leftovers may only carry a temporary name
# (NAME.tmp.XXXXXX), never a real one.
# Then `lorabert train` on the tiny DistilBERT (200 IMDb rows, 4 epochs, a checkpoint every
# 50 steps) is killed the same way, 24 times, into a fresh folder (odd rounds) or over a
# previous complete run with --overwrite-output-dir (even rounds). After every kill each
# checkpoint-<step>/ present is complete and self-consistent (trainer_state.json's global_step
# is <step>, the adapter loads), the top level holds no adapter or the complete result, an old
# run is either intact byte for byte or wholly replaced; leftovers carry only staging, lock or
# temporary names, and the next run into the folder removes them all.
# Exit 0 pass, 77 skip, 1 fail.
set -u
cd "$(dirname "$0")/../.."
LB=${LORABERT_BIN:-build/release/lorabert}
G=tests/golden/distilbert_traj
[ -x "$LB" ] || { echo "kill9: $LB not built"; exit 77; }
[ -f $G/model/model.safetensors ] || { echo "kill9: $G absent"; exit 77; }
fail() { echo "FAIL: $*"; exit 1; }
T=$(mktemp -d /tmp/lbkill9.XXXXXX); trap 'rm -rf "$T"' EXIT

# The two complete versions: "old" merges the initial adapter, "new" the trained one.
$LB merge --model $G/model --adapter $G/trajectory/init --output "$T/old" >/dev/null || fail "merge init"
$LB merge --model $G/model --adapter $G/trajectory/final --output "$T/new" >/dev/null || fail "merge final"
cmp -s "$T/old/model.safetensors" "$T/new/model.safetensors" && fail "old and new merges are identical"
# How long an uninterrupted run takes: the kills are spread over 0..1.2x that.
t0=$(date +%s%N); $LB merge --model $G/model --adapter $G/trajectory/final --output "$T/probe" >/dev/null || fail "probe"
run_us=$(( ($(date +%s%N) - t0) / 1000 )); span=$(( run_us * 12 / 10 + 1 ))

# "new" first: config.json is the same text in both versions
same_as() { cmp -s "$1" "$T/new/$2" && echo new && return; cmp -s "$1" "$T/old/$2" && echo old && return; echo torn; }
killed=0; finished=0; leftovers=0; declare -A seen=()
for i in $(seq 1 24); do
    out="$T/out$i"
    if (( i % 2 == 0 )); then mkdir "$out" && cp "$T"/old/* "$out/"; fi
    delay=$(( (RANDOM * 32768 + RANDOM) % span ))
    $LB merge --model $G/model --adapter $G/trajectory/final --output "$out" >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null; rc=$?
    if [ $rc -eq 137 ]; then killed=$((killed + 1)); elif [ $rc -eq 0 ]; then finished=$((finished + 1));
    else fail "round $i: merge exited $rc"; fi
    for f in model.safetensors config.json; do
        if [ -e "$out/$f" ]; then
            s=$(same_as "$out/$f" $f)
            [ "$s" != torn ] || fail "round $i (killed after ${delay} us): $f is neither the old nor the new file"
            seen[$f:$s]=1
            if (( i % 2 == 1 )) && [ "$s" = old ]; then fail "round $i: $f cannot be old in a fresh folder"; fi
        else
            (( i % 2 == 1 )) || fail "round $i: $f vanished from a folder that held a complete one"
            seen[$f:absent]=1
        fi
    done
    # A fresh folder may hold the new weights before its config.json is written: each file is
    # whole, the folder is loadable once both are there.
    if [ -e "$out/model.safetensors" ] && [ -e "$out/config.json" ]; then
        $LB info "$out" >/dev/null 2>"$T/err" || fail "round $i: info on the folder: $(cat "$T/err")"
    fi
    if [ -d "$out" ]; then
        for p in "$out"/*; do
            [ -e "$p" ] || continue
            case "$(basename "$p")" in
                model.safetensors|config.json) ;;
                model.safetensors.tmp.??????|config.json.tmp.??????) leftovers=$((leftovers + 1)) ;;
                *) fail "round $i: unexpected file $(basename "$p")";;
            esac
        done
    fi
done
(( killed >= 1 )) || fail "no run was killed mid-way (all $finished finished first): the test did not test"
echo "kill9 merge: ok ($killed runs killed mid-way, $finished finished first; uninterrupted run ${run_us} us; $leftovers temp leftovers; outcomes: ${!seen[*]})"

# ---- train ----
SHARED=${LORABERT_SHARED:-../shared}
[ -f "$SHARED/data/imdb/train.csv" ] || { echo "kill9 train: shared data absent ($SHARED): skipped"; exit 0; }
M=$T/model
mkdir -p "$M"
cp $G/model/* "$M/"
cp "$SHARED/data/tokenizer/vocab.txt" "$M/"
cp "$SHARED/data/tokenizer/tokenizer_config.shawhin-checkpoint.json" "$M/tokenizer_config.json"
head -n 201 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 21 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
C=(--model "$M" --train "$T/train.csv" --validation "$T/val.csv" --max-length 64 --threads 1 --epochs 4)
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
TOP=(adapter_config.json adapter_model.safetensors labels.json vocab.txt tokenizer_config.json trainer_state.json
     metrics.json training_curves.svg)
CKPT=(adapter_config.json adapter_model.safetensors labels.json vocab.txt tokenizer_config.json trainer_state.json)
step_of() { python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["global_step"])' "$1"; }
# a complete run folder: every checkpoint whole and consistent, the full top-level set
check_folder() {  # DIR ROUND
    local d=$1 r=$2 c f n
    for c in "$d"/checkpoint-*; do
        [ -e "$c" ] || continue
        n=${c##*/checkpoint-}
        for f in "${CKPT[@]}"; do [ -f "$c/$f" ] || fail "round $r: $c lacks $f"; done
        [ "$(step_of "$c/trainer_state.json")" = "$n" ] || fail "round $r: $c/trainer_state.json is for another step"
        $LB predict --model "$M" --adapter "$c" "x" >/dev/null 2>"$T/err" || fail "round $r: $c does not load: $(cat "$T/err")"
    done
    if [ -e "$d/adapter_model.safetensors" ] || [ -e "$d/trainer_state.json" ] || [ -e "$d/metrics.json" ]; then
        for f in "${TOP[@]}"; do [ -f "$d/$f" ] || fail "round $r: the result in $d lacks $f"; done
        [ "$(step_of "$d/trainer_state.json")" = 200 ] || fail "round $r: $d/trainer_state.json is not the final one"
        for n in 50 100 150 200; do [ -d "$d/checkpoint-$n" ] || fail "round $r: result without checkpoint-$n"; done
    fi
}
leftovers_in() {  # what may only be left by a killed run, in and beside DIR
    find "$(dirname "$1")" -maxdepth 3 \( -name '.*.staging.*' -o -name '.*.old.*' -o -name '*.tmp.??????' \
         -o -name '.*.lock' \) 2>/dev/null
}
$LB train "${C[@]}" --seed 1 --output "$T/trained_old" >/dev/null 2>"$T/err" || fail "train: $(cat "$T/err")"
check_folder "$T/trained_old" 0
t0=$(date +%s%N); $LB train "${C[@]}" --output "$T/tprobe" >/dev/null || fail "train probe"
run_us=$(( ($(date +%s%N) - t0) / 1000 )); span=$(( run_us * 12 / 10 + 1 ))
killed=0; finished=0; left=0; declare -A tseen=()
for i in $(seq 1 24); do
    k="$T/k$i"; mkdir -p "$k"; out="$k/out"; over=()
    if (( i % 2 == 0 )); then cp -r "$T/trained_old" "$out"; over=(--overwrite-output-dir); fi
    delay=$(( (RANDOM * 32768 + RANDOM) % span ))
    $LB train "${C[@]}" --seed 2 --output "$out" "${over[@]}" >/dev/null 2>&1 &
    pid=$!
    sleep "$(printf '%d.%06d' $((delay / 1000000)) $((delay % 1000000)))"
    kill -9 $pid 2>/dev/null
    wait $pid 2>/dev/null; rc=$?
    if [ $rc -eq 137 ]; then killed=$((killed + 1)); elif [ $rc -eq 0 ]; then finished=$((finished + 1));
    else fail "round $i: train exited $rc"; fi
    if (( i % 2 == 0 )); then
        if [ "$(sums "$out")" = "$(sums "$T/trained_old")" ]; then tseen[old]=1
        else check_folder "$out" $i; [ -f "$out/adapter_model.safetensors" ] || fail "round $i: the old run is gone and no new result"; tseen[new]=1; fi
    elif [ -d "$out" ]; then
        check_folder "$out" $i
        [ -f "$out/adapter_model.safetensors" ] && tseen[result]=1 || tseen[partial]=1
    else tseen[absent]=1; fi
    lo=$(leftovers_in "$out"); [ -n "$lo" ] && left=$((left + 1))
    for p in "$out"/* "$out"/checkpoint-*/*; do   # no stray real names
        [ -e "$p" ] || continue
        b=${p##*/}
        case "$b" in checkpoint-*|adapter_config.json|adapter_model.safetensors|labels.json|vocab.txt|\
                     tokenizer_config.json|trainer_state.json|metrics.json|training_curves.svg|\
                     resume.json|optimizer.safetensors|best.safetensors) ;; # the last three: checkpoints' resume state
                     *) fail "round $i: unexpected entry $p";; esac
    done
    # the next run into the folder removes every leftover (and can replace the killed run)
    $LB train "${C[@]}" --epochs 1 --output "$out" --overwrite-output-dir >/dev/null 2>"$T/err" ||
        fail "round $i: the next run: $(cat "$T/err")"
    lo=$(leftovers_in "$out"); [ -z "$lo" ] || fail "round $i: left after the next run: $lo"
    [ "$(step_of "$out/trainer_state.json")" = 50 ] && [ -d "$out/checkpoint-50" ] && [ ! -e "$out/checkpoint-100" ] ||
        fail "round $i: the next run did not replace the killed one: $(ls "$out")"
    rm -rf "$k"
done
(( killed >= 1 )) || fail "no train was killed mid-way (all $finished finished first): the test did not test"
echo "kill9 train: ok ($killed runs killed mid-way, $finished finished first; uninterrupted run ${run_us} us; $left rounds with leftovers, all removed by the next run; outcomes: ${!tseen[*]})"
