#!/usr/bin/env bash
# End-to-end test of `lorabert tokenize` against the tokenizer oracle in ../shared.
# Exit 0 pass, 77 skip, anything else fail.
set -u
root=$(cd "$(dirname "$0")/../.." && pwd)
bin=${LORABERT_BIN:-$root/build/release/lorabert}
case $bin in /*) ;; *) bin=$root/$bin ;; esac
shared=${LORABERT_SHARED:-$root/../shared}
oracle=$shared/data/tokenizer/oracle
[ -f "$shared/data/tokenizer/vocab.txt" ] && [ -f "$oracle/edge_cases.jsonl" ] || {
  echo "skip: $shared/data/tokenizer absent (set LORABERT_SHARED)"; exit 77; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/model"
cp "$shared/data/tokenizer/vocab.txt" "$tmp/model/"
fail() { echo "FAIL: $*"; exit 1; }
ids() { grep -o "\"$1\":\[[^]]*\]" | sed "s/^\"$1\"/\"input_ids\"/"; }

# 1. Edge cases fed as JSON lines (the oracle lines carry "text"), with and without specials.
for id in simple accents special_token_literals cjk html_br german_sharp_s control_chars nbsp_and_zero_width long_word_101; do
  line=$(grep "\"id\":\"$id\"" "$oracle/edge_cases.jsonl") || fail "no oracle case $id"
  want=$(printf '%s\n' "$line" | ids input_ids)
  got=$(printf '%s\n' "$line" | "$bin" tokenize --model "$tmp/model" --jsonl | ids input_ids) || fail "$id: exit $?"
  [ "$got" = "$want" ] || fail "$id: got $got, want $want"
  want=$(printf '%s\n' "$line" | ids input_ids_no_special)
  got=$(printf '%s\n' "$line" | "$bin" tokenize --model "$tmp/model" --jsonl --no-special-tokens | ids input_ids)
  [ "$got" = "$want" ] || fail "$id without specials: got $got, want $want"
done

# 2. Plain-text lines, tokens included.
out=$(printf 'Hello, world!\n\nIt was good.\n' | "$bin" tokenize --model "$tmp/model") || fail "plain: exit $?"
[ "$(printf '%s\n' "$out" | sed -n 1p)" = '{"input_ids":[101,7592,1010,2088,999,102],"tokens":["[CLS]","hello",",","world","!","[SEP]"]}' ] ||
  fail "plain line 1: $out"
[ "$(printf '%s\n' "$out" | sed -n 2p)" = '{"input_ids":[101,102],"tokens":["[CLS]","[SEP]"]}' ] || fail "empty line: $out"
[ "$(printf '%s\n' "$out" | wc -l)" -eq 3 ] || fail "expected 3 output lines: $out"

# 3. An IMDb review longer than 512 tokens: full, left- and right-truncated.
n=$(grep -n 'input_ids_trunc512_left' "$oracle/imdb_train_ids.jsonl" | head -1 | cut -d: -f1)
[ -n "$n" ] || fail "no long review in the oracle"
review=$(sed -n "${n}p" "$shared/data/imdb/train.jsonl")
orc=$(sed -n "${n}p" "$oracle/imdb_train_ids.jsonl")
for mode in full left right; do
  case $mode in
    full) args=(); key=input_ids ;;
    left) args=(--max-length 512 --truncation left); key=input_ids_trunc512_left ;;
    right) args=(--max-length=512 --truncation=right); key=input_ids_trunc512_right ;;
  esac
  want=$(printf '%s\n' "$orc" | ids "$key")
  got=$(printf '%s\n' "$review" | "$bin" tokenize --model "$tmp/model" --jsonl "${args[@]}" | ids input_ids)
  [ "$got" = "$want" ] || fail "review line $n ($mode) differs from the oracle"
done

# 4. Errors: one line on stderr, non-zero exit.
expect_error() { # code needle cmd...
  local code=$1 needle=$2; shift 2
  "$@" >"$tmp/out" 2>"$tmp/err"; local rc=$?
  [ $rc -eq "$code" ] || fail "'$*': exit $rc, expected $code ($(cat "$tmp/err"))"
  grep -q -- "$needle" "$tmp/err" || fail "'$*': stderr lacks '$needle': $(cat "$tmp/err")"
  [ "$(wc -l <"$tmp/err")" -le 2 ] || fail "'$*': stderr is not short: $(cat "$tmp/err")"
}
printf 'ok line\nbad \xff byte\n' >"$tmp/bad.txt"
expect_error 4 "stdin line 2: invalid UTF-8 at byte 4" "$bin" tokenize --model "$tmp/model" <"$tmp/bad.txt"
out=$("$bin" tokenize --model "$tmp/model" --replace-invalid <"$tmp/bad.txt") || fail "--replace-invalid: exit $?"
[ "$(printf '%s\n' "$out" | sed -n 2p | ids input_ids)" = '"input_ids":[101,2919,24880,102]' ] || fail "--replace-invalid: $out"
echo 'not json' >"$tmp/bad.jsonl"
expect_error 4 "stdin line 1: invalid JSON" "$bin" tokenize --model "$tmp/model" --jsonl <"$tmp/bad.jsonl"
echo '{"label": 1}' >"$tmp/bad.jsonl"
expect_error 4 '"text" string' "$bin" tokenize --model "$tmp/model" --jsonl <"$tmp/bad.jsonl"
expect_error 2 "--model DIR is required" "$bin" tokenize </dev/null
expect_error 2 "left or right" "$bin" tokenize --model "$tmp/model" --truncation middle </dev/null
expect_error 2 "positive integer" "$bin" tokenize --model "$tmp/model" --max-length 0 </dev/null
expect_error 2 "unknown option" "$bin" tokenize --model "$tmp/model" --bogus </dev/null
expect_error 3 "not a directory" "$bin" tokenize --model "$tmp/nonexistent" </dev/null
mkdir "$tmp/empty"
expect_error 3 "no tokenizer.json or vocab.txt" "$bin" tokenize --model "$tmp/empty" </dev/null
echo '{"model": ' >"$tmp/model/tokenizer.json" # tokenizer.json wins over vocab.txt, and is corrupt
expect_error 4 "tokenizer.json: invalid JSON" "$bin" tokenize --model "$tmp/model" </dev/null
"$bin" tokenize --help | grep -q -- "--max-length N" || fail "--help lacks --max-length"
echo "tokenize CLI: all checks passed"
