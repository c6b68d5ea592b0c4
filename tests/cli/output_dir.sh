#!/usr/bin/env bash
# Output folders (docs/training.md "What --output DIR holds", docs/errors.md "Output folders"):
# merge refuses an --output that is, holds or lies inside --model or --adapter and leaves them
# byte-identical; `--output ''` is a usage error; a second writer of one folder is refused
# naming the first one's pid; a non-empty --output is refused unless it is resumed or
# --overwrite-output-dir is given, which replaces the old run as a whole (no stale
# tokenizer.json beside a new vocab.txt); on a full disk the previous complete output
# survives byte for byte and nothing is left behind. Exit 0 pass, 77 skip, 1 fail.
set -u
source "$(dirname "$0")/../support/cli_common.sh" outdir
G=tests/golden/distilbert_traj
head -n 41 "$SHARED/data/imdb/train.csv" >"$T/train.csv"
head -n 21 "$SHARED/data/imdb/validation.csv" >"$T/val.csv"
C=(--train "$T/train.csv" --validation "$T/val.csv" --max-length 128 --threads 1)
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
no_leftovers() {  # no staging/old/temporary names in or beside folder $1
    local hits
    hits=$(find "$(dirname "$1")" -maxdepth 3 \( -name '.*.staging.*' -o -name '.*.old.*' -o -name '*.tmp.??????' \
           -o -name 'resume.tmp' \) 2>/dev/null)
    [ -z "$hits" ] || fail "$2: leftovers: $hits"
}

# --- merge into its own inputs: refused (exit 2), inputs untouched -------------------------
mkdir -p "$T/in"
cp -r $G/model "$T/in/D"
cp -r $G/trajectory/final "$T/in/A"
ln -s "$T/in/D" "$T/in/Dlink"
sumD=$(sums "$T/in/D"); sumA=$(sums "$T/in/A")
for out in "$T/in/D" "$T/in/A" "$T/in/A/sub" "$T/in/D/new/deeper" "$T/in" "$T/in/Dlink" "$T/in/A/../D"; do
    $LB merge --model "$T/in/D" --adapter "$T/in/A" --output "$out" >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 2 ] || fail "merge --output $out: exit $rc, want 2: $(cat "$T/err")"
    grep -Eq -- '(model|adapter) folder' "$T/err" || fail "merge --output $out: message: $(cat "$T/err")"
done
[ "$(sums "$T/in/D")" = "$sumD" ] || fail "merge changed its --model folder"
[ "$(sums "$T/in/A")" = "$sumA" ] || fail "merge changed its --adapter folder"
[ ! -e "$T/in/A/sub" ] && [ ! -e "$T/in/D/new" ] || fail "merge created a folder inside an input"
no_leftovers "$T/in/D" "refused merges"

# --- merge over an earlier merge: replaced whole; a folder with other files: refused --------
$LB merge --model "$T/in/D" --adapter "$T/in/A" --output "$T/m1" >/dev/null || fail "merge"
echo '{"stale": true}' >"$T/m1/tokenizer.json"
$LB merge --model "$T/in/D" --adapter "$T/in/A" --output "$T/m1" >/dev/null || fail "merge over a merge"
[ ! -e "$T/m1/tokenizer.json" ] || fail "a stale tokenizer.json survived a new merge into the folder"
touch "$T/m1/notes.txt"
$LB merge --model "$T/in/D" --adapter "$T/in/A" --output "$T/m1" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'notes.txt' "$T/err" || fail "merge into a folder with other files: exit $rc: $(cat "$T/err")"
[ -f "$T/m1/notes.txt" ] && [ -f "$T/m1/model.safetensors" ] || fail "a refused merge changed the folder"

# --- empty --output -------------------------------------------------------------------------
$LB merge --model "$T/in/D" --adapter "$T/in/A" --output '' >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'empty' "$T/err" || fail "merge --output '': exit $rc: $(cat "$T/err")"
$LB train --model "$M" "${C[@]}" --output '' >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'empty' "$T/err" || fail "train --output '': exit $rc: $(cat "$T/err")"

# --- two writers of one folder: the second is refused, naming the first --------------------
head -n 401 "$SHARED/data/imdb/train.csv" >"$T/train400.csv"
$LB train --model "$M" "${C[@]}" --train "$T/train400.csv" --epochs 3 --output "$T/busy" >"$T/busy.log" 2>&1 &
pid=$!
for _ in $(seq 2000); do [ "$(cat "$T/.busy.lock" 2>/dev/null)" = "$pid" ] && break; sleep 0.005; done
kill -STOP $pid 2>/dev/null
[ "$(cat "$T/.busy.lock" 2>/dev/null)" = "$pid" ] || { kill -CONT $pid; wait $pid; fail "the first train never held its lock"; }
$LB train --model "$M" "${C[@]}" --epochs 1 --output "$T/busy" >/dev/null 2>"$T/err"; rc=$?
$LB merge --model "$T/in/D" --adapter "$T/in/A" --output "$T/busy" >/dev/null 2>"$T/err2"; rc2=$?
kill -CONT $pid
wait $pid; rc1=$?
[ $rc1 -eq 0 ] || fail "the first train failed: $(tail -3 "$T/busy.log")"
[ $rc -eq 3 ] && grep -q "pid $pid" "$T/err" || fail "second train into a busy folder: exit $rc: $(cat "$T/err")"
[ $rc2 -eq 3 ] && grep -q "pid $pid" "$T/err2" || fail "merge into a busy folder: exit $rc2: $(cat "$T/err2")"
[ "$(ls "$T/busy" | grep -c '^checkpoint-')" -eq 3 ] && [ -d "$T/busy/checkpoint-300" ] ||
    fail "the first run's folder: $(ls "$T/busy")"
grep -q '"global_step": 300' "$T/busy/trainer_state.json" || fail "the first run's trainer_state.json"
[ ! -e "$T/.busy.lock" ] || fail "the lock file outlived its run"

# --- a reused folder: refused; --overwrite-output-dir replaces it whole ---------------------
M1=$T/m_json; M2=$T/m_cased
cp -r "$M" "$M1"; cp "$SHARED/data/tokenizer/tokenizer.shawhin-checkpoint.json" "$M1/tokenizer.json"
cp -r "$M" "$M2"; sed -i 's/"do_lower_case": true/"do_lower_case": false/' "$M2/tokenizer_config.json"
echo "Hello World" | $LB tokenize --model "$M1" >"$T/tok1"
echo "Hello World" | $LB tokenize --model "$M2" >"$T/tok2"
cmp -s "$T/tok1" "$T/tok2" && fail "the two tokenizers agree: the stale-file check would not test anything"
$LB train --model "$M1" "${C[@]}" --epochs 3 --output "$T/run" >/dev/null 2>"$T/err" || fail "train 1: $(cat "$T/err")"
[ -f "$T/run/tokenizer.json" ] && [ -d "$T/run/checkpoint-30" ] || fail "train 1 output: $(ls "$T/run")"
sumR=$(sums "$T/run")
$LB train --model "$M2" "${C[@]}" --epochs 2 --output "$T/run" >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'not empty' "$T/err" && grep -q 'checkpoint-30/' "$T/err" && grep -q -- '--overwrite-output-dir' "$T/err" ||
    fail "train into another run's folder: exit $rc: $(cat "$T/err")"
[ "$(sums "$T/run")" = "$sumR" ] || fail "a refused train changed the folder"
$LB train --model "$M2" "${C[@]}" --epochs 2 --output "$T/run" --overwrite-output-dir >/dev/null 2>"$T/err" ||
    fail "train --overwrite-output-dir: $(cat "$T/err")"
[ ! -e "$T/run/tokenizer.json" ] || fail "the old run's tokenizer.json survived beside the new vocab.txt"
[ ! -e "$T/run/checkpoint-30" ] || fail "the old run's checkpoint-30 survived"
[ -d "$T/run/checkpoint-20" ] && grep -q '"global_step": 20' "$T/run/trainer_state.json" || fail "the new run's output"
echo "Hello World" | $LB tokenize --model "$T/run" >"$T/tok_run"
cmp -s "$T/tok_run" "$T/tok2" || fail "the output folder tokenizes differently from training: $(cat "$T/tok_run") vs $(cat "$T/tok2")"
$LB predict --model "$M2" --adapter "$T/run" "Hello World" >/dev/null || fail "predict with the new adapter"
no_leftovers "$T/run" "after --overwrite-output-dir"
touch "$T/run/notes.txt"
$LB train --model "$M2" "${C[@]}" --epochs 1 --output "$T/run" --overwrite-output-dir >/dev/null 2>"$T/err"; rc=$?
[ $rc -eq 2 ] && grep -q 'notes.txt' "$T/err" || fail "--overwrite-output-dir over a folder with other files: exit $rc: $(cat "$T/err")"

# --- disk full: the previous complete output survives ---------------------------------------
S=$T/small
mkdir -p "$S"
if mount -t tmpfs -o size=8m tmpfs "$S" 2>/dev/null; then
    trap 'umount "$S" 2>/dev/null; rm -rf "$T"' EXIT
    fill() {  # leave about $1 KiB free on $S
        local avail; avail=$(df -k --output=avail "$S" | tail -1)
        [ "$avail" -gt "$1" ] && head -c $(( (avail - $1) * 1024 )) /dev/zero >"$S/fill" 2>/dev/null
        return 0
    }
    # old: the initial adapter merged; new: the trained one. Room for the new 2 MB
    # model.safetensors but not for it and the 230 KB vocab.txt as well: a merge that wrote
    # files one by one would leave the new weights beside the old tokenizer.
    $LB merge --model "$M" --adapter $G/trajectory/init --output "$S" >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 2 ] && grep -q 'mount point' "$T/err" || fail "merge --output MOUNTPOINT: exit $rc: $(cat "$T/err")"
    $LB merge --model "$M" --adapter $G/trajectory/init --output "$S/merged" >/dev/null || fail "merge on tmpfs"
    sumM=$(sums "$S/merged")
    fill 2100
    $LB merge --model "$M" --adapter "$T/in/A" --output "$S/merged" >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 3 ] || fail "merge on a full disk: exit $rc, want 3: $(cat "$T/err")"
    [ "$(sums "$S/merged")" = "$sumM" ] || fail "a merge that hit a full disk changed the previous output"
    no_leftovers "$S/merged" "merge on a full disk"
    rm -rf "$S/merged" "$S/fill"
    $LB train --model "$M" "${C[@]}" --epochs 2 --output "$S/run" >/dev/null 2>"$T/err" || fail "train on tmpfs: $(cat "$T/err")"
    sumR=$(sums "$S/run")
    fill 400    # room for one checkpoint, not for the whole run
    $LB train --model "$M" "${C[@]}" --epochs 2 --seed 7 --output "$S/run" --overwrite-output-dir >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 3 ] || fail "train on a full disk: exit $rc, want 3: $(cat "$T/err")"
    [ "$(sums "$S/run")" = "$sumR" ] || fail "a train that hit a full disk changed the previous output"
    no_leftovers "$S/run" "train on a full disk"
    # into a fresh folder: whatever is there is complete (checkpoints whole, no half final set)
    $LB train --model "$M" "${C[@]}" --epochs 2 --output "$S/fresh" >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 3 ] || fail "fresh train on a full disk: exit $rc, want 3: $(cat "$T/err")"
    for c in "$S"/fresh/checkpoint-*; do
        [ -e "$c" ] || continue
        for f in adapter_config.json adapter_model.safetensors trainer_state.json labels.json vocab.txt; do
            [ -f "$c/$f" ] || fail "$c lacks $f after a full disk"
        done
    done
    [ ! -e "$S/fresh/adapter_model.safetensors" ] || fail "a half-written final output after a full disk"
    no_leftovers "$S/fresh" "fresh train on a full disk"
    disk="tmpfs"
else
    # no mount here: RLIMIT_FSIZE makes writes past 1000 KiB fail with EFBIG the same way
    $LB merge --model "$T/in/D" --adapter "$T/in/A" --output "$S/merged" >/dev/null || fail "merge"
    sumM=$(sums "$S/merged")
    ( trap '' XFSZ; ulimit -f 1000; exec $LB merge --model "$T/in/D" --adapter "$T/in/A" --output "$S/merged" ) \
        >/dev/null 2>"$T/err"; rc=$?
    [ $rc -eq 3 ] || fail "merge past RLIMIT_FSIZE: exit $rc, want 3: $(cat "$T/err")"
    [ "$(sums "$S/merged")" = "$sumM" ] || fail "a merge that failed to write changed the previous output"
    no_leftovers "$S/merged" "merge past RLIMIT_FSIZE"
    disk="RLIMIT_FSIZE"
fi
echo "output_dir: ok (disk full via $disk)"
