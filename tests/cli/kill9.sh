#!/usr/bin/env bash
# Crash safety: `lorabert merge` writes a 2 MB model.safetensors (+ config.json) through
# lb_atomic_* (temp file, fsync, rename). It is killed with SIGKILL at random moments, 24
# times, over an output folder that holds an older complete model (even rounds) or nothing
# (odd rounds). After every kill each destination file must be absent, the old complete file
# or the new complete file, byte for byte, never torn; `lorabert info` must load the folder
# whenever both files exist; leftovers may only carry a temporary name
# (NAME.tmp.XXXXXX), never a real one. Exit 0 pass, 77 skip, 1 fail.
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
echo "kill9: ok ($killed runs killed mid-way, $finished finished first; uninterrupted run ${run_us} us; $leftovers temp leftovers; outcomes: ${!seen[*]})"
