#!/usr/bin/env bash
# Runs lorabert on a set of bad inputs and prints a Markdown table (case | command | exit |
# stderr) for docs/errors.md. Needs build/release/lorabert and python3 (for corrupt files and
# the look-alike hub). Paths are shown relative to a scratch folder $T.
#   tools/errors_table.sh > /tmp/rows.md
set -u
cd "$(dirname "$0")/.."
LB=${LORABERT_BIN:-$PWD/build/release/lorabert}
T=$(mktemp -d /tmp/lberr.XXXXXX)
ROOT=$PWD
G=$PWD/tests/golden/distilbert_tiny
R=$PWD/tests/golden/roberta_tiny/model
SHARED=$(cd "${LORABERT_SHARED:-../shared}" 2>/dev/null && pwd)
source tests/support/hubserver.sh >/dev/null   # HF_ENDPOINT, HF_HUB_CACHE; its trap cleans up
trap 'kill $HUB_PID 2>/dev/null; wait $HUB_PID 2>/dev/null; rm -rf "$HUB_ROOT" "$T"' EXIT
cd "$T"

vocab() { { echo '[PAD]'; for i in $(seq 0 98); do echo "[unused$i]"; done; printf '[UNK]\n[CLS]\n[SEP]\n[MASK]\n';
            for i in $(seq 99 114); do echo "[unused$i]"; done; } >"$1/vocab.txt"; }
mk() { mkdir -p "$1" && cp "$G"/model/* "$1/" && vocab "$1"; }   # a good tiny model folder
mk m
row() {  # row CASE CMD...: run CMD (in $T), print one table row
    local what=$1; shift
    local err rc
    err=$("$@" 2>&1 >/dev/null </dev/null); rc=$?
    local cmd="${*/#$LB/lorabert}"
    cmd="${cmd//$ROOT\//}"   # the checkout's own files by their path in the repository
    [ -n "$err" ] || { printf '| %s | `%s` | %d | (nothing on stderr) |\n' "$what" "$cmd" "$rc"; return; }
    # stable text: the hub's port and the scratch folders vary per run
    printf '| %s | `%s` | %d | `%s` |\n' "$what" "${cmd//|/\\|}" "$rc" "$(printf '%s' "$err" | tr '\n' '~' |
        sed "s/~\$//; s/~/ ⏎ /g; s/|/\\\\|/g; s#$HF_ENDPOINT#http://127.0.0.1:PORT#g; s#$HUB_ROOT#HUB#g; s#$T/##g;
             s/stopped at [0-9]* bytes/stopped at N bytes/")"
}
echo '| case | command | exit | stderr |'
echo '|---|---|---|---|'

# --- model folder
row "model folder missing (a path)" $LB predict --model ./nope "x"
row "model folder missing (a bare name is a hub repo id)" $LB predict --model nope "x"
mk noconf && rm noconf/config.json
row "config.json missing" $LB predict --model noconf "x"
mk notjson && echo '{"model_type": "distilbert",' >notjson/config.json
row "config.json not JSON" $LB predict --model notjson "x"
mk arch && sed -i 's/"distilbert"/"gpt2"/' arch/config.json
row "unsupported architecture (model_type gpt2)" $LB predict --model arch "x"
printf 'label,text\n0,a\n1,b\n' >rdata.csv
# ModernBERT configurations and targets lorabert does not run (tests/golden/modernbert_tiny, one field changed)
MB=$ROOT/tests/golden/modernbert_tiny/model
mkm() { mkdir -p "$1" && cp "$MB"/* "$1/"; }
mkm mb
mkm mbias && sed -i 's/"norm_bias": false/"norm_bias": true/' mbias/config.json
row "ModernBERT norm_bias true (also attention_bias, mlp_bias, classifier_bias)" $LB predict --model mbias "x"
mkm mdrop && sed -i 's/"mlp_dropout": 0.0/"mlp_dropout": 0.1/' mdrop/config.json
row "ModernBERT mlp_dropout 0.1 (also attention_dropout, embedding_dropout)" $LB predict --model mdrop "x"
mkm mrope && sed -i 's/"model_type"/"rope_scaling": {"type": "linear", "factor": 2.0}, "model_type"/' mrope/config.json
row "ModernBERT rope_scaling" $LB predict --model mrope "x"
row "ModernBERT LoRA target query (its attention projection is the fused Wqkv)" $LB train --model mb --train rdata.csv --no-eval --target-modules query --output mout
row "ModernBERT LoRA target all-linear (PEFT would adapt head.dense)" $LB train --model mb --train rdata.csv --no-eval --target-modules all-linear --output mout
# RoBERTa / XLM-R configurations lorabert does not run (tests/golden/roberta_tiny with one field changed)
mkr() { mkdir -p "$1" && cp "$R"/* "$1/"; }
mkr rob
mkr rrel && sed -i 's/"absolute"/"relative_key"/' rrel/config.json
row "RoBERTa position_embedding_type relative_key" $LB predict --model rrel "x"
mkr rdec && sed -i 's/"model_type": "roberta",/"model_type": "roberta", "is_decoder": true,/' rdec/config.json
row "RoBERTa is_decoder true" $LB predict --model rdec "x"
mkr rpadnull && sed -i 's/"pad_token_id": 1,/"pad_token_id": null,/' rpadnull/config.json
row "RoBERTa pad_token_id null (position ids need it)" $LB predict --model rpadnull "x"
mkr rpad && sed -i 's/"pad_token_id": 1,/"pad_token_id": 65,/' rpad/config.json
row "RoBERTa pad_token_id leaves no position" $LB predict --model rpad "x"
row "RoBERTa --max-length past max_position_embeddings - pad_token_id - 1" $LB predict --model rob --max-length 65 "x"
printf 'label,text\n0,a\n1,b\n' >rdata.csv
row "RoBERTa LoRA target dense (PEFT would adapt classifier.dense)" $LB train --model rob --train rdata.csv --no-eval --target-modules dense --output rout
mk ptype && sed -i 's/"model_type"/"problem_type": "zero_shot", "model_type"/' ptype/config.json
row "unsupported problem_type (zero_shot)" $LB predict --model ptype "x"
mk multi && sed -i 's/"model_type"/"problem_type": "multi_label_classification", "model_type"/' multi/config.json
printf 'text,label\ngood,1\nbad,0\n' >multi.csv
row "eval of a multi-label model without its label columns" $LB eval --model multi --data multi.csv
row "train of a multi-label model from a CSV without --label-columns (a list of labels needs JSONL or Parquet)" $LB train --model multi --train multi.csv --no-eval --output mlrun
# multi-label targets from a column of lists (JSONL arrays, Parquet lists)
ML="--problem-type multi_label_classification --label-column labels --no-eval --output mlrun"
printf '{"text":"good","labels":["a"]}\n{"text":"bad","labels":[1]}\n' >lmix.jsonl
row "train: label lists of names and of class ids in one column" $LB train --model m --train lmix.jsonl $ML
printf '{"text":"good","labels":["a","b","a"]}\n' >ldup.jsonl
row "train: a label twice in one list" $LB train --model m --train ldup.jsonl $ML
printf '{"text":"good","labels":[0]}\n{"text":"bad","labels":[64]}\n' >lbig.jsonl
row "train: a class id of 64 in a list" $LB train --model m --train lbig.jsonl $ML
printf '{"text":"good","labels":[0.0,1.0]}\n{"text":"bad","labels":[1.0,0.0,0.0]}\n' >llen.jsonl
row "train: multi-hot lists of two lengths" $LB train --model m --train llen.jsonl $ML
printf '{"text":"good","labels":[0,2]}\n' >lhot.jsonl
row "train: --label-format multi-hot with a 2" $LB train --model m --train lhot.jsonl $ML --label-format multi-hot
printf '{"text":"good","labels":["a"]}\n{"text":"bad","labels":"b"}\n' >lnot.jsonl
row "train: a label cell that is not a list" $LB train --model m --train lnot.jsonl $ML
printf '{"text":"good","labels":["a"]}\n{"text":"bad","labels":["b"]}\n' >ltrain.jsonl
printf '{"text":"fine","labels":["a","c"]}\n' >lval.jsonl
row "train: a validation label that is not among the training set's names" $LB train --model m --train ltrain.jsonl --validation lval.jsonl --problem-type multi_label_classification --label-column labels --output mlrun
printf '{"text":"good","labels":[1.0,0.0,1.0]}\n' >lhot3.jsonl
row "eval: a multi-hot list of 3 values for a model of 2 labels" $LB eval --model multi --data lhot3.jsonl --label-column labels
row "train: --label-format with --label-columns" $LB train --model m --train ml2.csv --label-columns a,b --label-format multi-hot --no-eval --output mlrun
printf '{"text":"good","label":["a","b"]}\n' >lsingle.jsonl
row "train (single-label) of a column of lists" $LB train --model m --train lsingle.jsonl --no-eval --output mlrun
printf 'text,a,b\ngood,1,0\nbad,0,2\n' >ml2.csv
row "train: a multi-label column holding 2" $LB train --model m --train ml2.csv --label-columns a,b --no-eval --output mlrun
row "train: a label column that is not there" $LB train --model m --train ml2.csv --label-columns a,c --no-eval --output mlrun
row "train: --label-columns with regression" $LB train --model m --train ml2.csv --problem-type regression --label-columns a,b --no-eval --output mlrun
row "train: unknown --problem-type" $LB train --model m --train ml2.csv --problem-type zero_shot --no-eval --output mlrun
printf 'text,score\ngood,1.5\nbad,high\n' >reg.csv
row "train: a regression label that is not a number" $LB train --model m --train reg.csv --problem-type regression --label-column score --no-eval --output rgrun
printf 'text,score\ngood,1.5\nbad,-2\n' >reg_ok.csv
printf 'text,a,b\ngood,1,0\nbad,0,1\n' >ml_ok.csv
mkdir -p regm && cp "$ROOT"/tests/golden/distilbert_traj_regression/model/* regm/ && vocab regm
row "train: a regression head on a checkpoint's 2-label head" $LB train --model m --train reg_ok.csv --problem-type regression --label-column score --no-eval --output rgrun
row "train: label smoothing with regression" $LB train --model regm --train reg_ok.csv --problem-type regression --label-column score --label-smoothing-factor 0.1 --no-eval --output rgrun
row "train: class weights with multi-label" $LB train --model m --train ml_ok.csv --label-columns a,b --class-weights 1,2 --no-eval --output mlrun
row "train: a regression metric for a classifier" $LB train --model m --train multi.csv --metric-for-best mse --no-eval --output mlrun
mk one && python3 -c "import json; c = json.load(open('one/config.json')); c['id2label'] = {'0': 'a'}; c['label2id'] = {'a': 0}; c['problem_type'] = 'single_label_classification'; json.dump(c, open('one/config.json', 'w'))"
row "a single-label model with one label" $LB predict --model one x
mk act && sed -i 's/"gelu"/"relu"/' act/config.json
row "unsupported activation (relu)" $LB predict --model act "x"
mk sin && sed -i 's/"sinusoidal_pos_embds": false/"sinusoidal_pos_embds": true/' sin/config.json
row "sinusoidal position embeddings" $LB predict --model sin "x"
mk heads && sed -i 's/"n_heads": 4/"n_heads": 5/' heads/config.json
row "dim not a multiple of n_heads" $LB predict --model heads "x"
mk shape && sed -i 's/"vocab_size": 120/"vocab_size": 121/' shape/config.json
row "wrong tensor shape (config vocab_size 121)" $LB predict --model shape "x"
mk nost && rm nost/model.safetensors
row "no model.safetensors" $LB predict --model nost "x"
mk notok && rm notok/vocab.txt
row "tokenizer missing" $LB predict --model notok "x"
mk stdir && rm stdir/model.safetensors && mkdir stdir/model.safetensors
row "model.safetensors is a directory" $LB predict --model stdir "x"
mk stfifo && rm stfifo/model.safetensors && mkfifo stfifo/model.safetensors
row "model.safetensors is a FIFO" $LB predict --model stfifo "x"
# tokenizer.json components outside the supported pipeline are refused by name (exit 5)
mkdir -p tokwl && echo '{"model":{"type":"WordLevel","vocab":{}}}' >tokwl/tokenizer.json
row "tokenizer model WordLevel" $LB tokenize --model tokwl </dev/null
mkdir -p toknfkc && echo '{"model":{"type":"BPE","vocab":{"a":0},"merges":[]},"normalizer":{"type":"NFKC"}}' >toknfkc/tokenizer.json
row "tokenizer normalizer NFKC" $LB tokenize --model toknfkc </dev/null
mkdir -p tokre && echo '{"model":{"type":"Unigram","vocab":[["a",0]]},"normalizer":{"type":"Replace","pattern":{"Regex":"a|b"},"content":""}}' >tokre/tokenizer.json
row "tokenizer Replace regex other than a run" $LB tokenize --model tokre </dev/null
mkdir -p tokdrop && echo '{"model":{"type":"BPE","vocab":{"a":0},"merges":[],"dropout":0.1}}' >tokdrop/tokenizer.json
row "BPE dropout" $LB tokenize --model tokdrop </dev/null

# --- safetensors validation rules (each file replaces model.safetensors of a good folder)
python3 - "$G/model/model.safetensors" <<'PY'
import json, os, shutil, struct, sys
src = open(sys.argv[1], "rb").read()
n = struct.unpack("<Q", src[:8])[0]
hdr, buf = json.loads(src[8:8 + n]), src[8 + n:]
def st(name, header=None, data=b"", raw=None):
    os.makedirs(name, exist_ok=True)
    for f in os.listdir("m"):
        shutil.copy(os.path.join("m", f), name)
    if raw is None:
        h = json.dumps(header).encode() if isinstance(header, dict) else header
        raw = struct.pack("<Q", len(h)) + h + data
    open(os.path.join(name, "model.safetensors"), "wb").write(raw)
st("st_short", raw=b"\x10\x00\x00\x00")
st("st_hugehdr", raw=struct.pack("<Q", 1 << 40) + b"{}")
st("st_pasthdr", raw=struct.pack("<Q", 4096) + b'{"a":1}')
st("st_ctrl", header=b'{"a":\x01}')
st("st_utf8", header=b'{"\xff":1}  ')
st("st_notobj", header=b'[1, 2, 3]')
st("st_badjson", header=b'{"a": [1, 2}')
st("st_dtype", header={"x": {"dtype": "Q7", "shape": [1], "data_offsets": [0, 4]}}, data=b"\0" * 4)
st("st_fp8", header={"x": {"dtype": "F8_E4M3", "shape": [4], "data_offsets": [0, 4]}}, data=b"\0" * 4)
st("st_span", header={"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, data=b"\0" * 4)
st("st_hole", header={"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, data=b"\0" * 8)
st("st_negshape", header={"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, data=b"\0" * 4)
st("st_trunc", raw=src[:-100])
st("st_trail", raw=src + b"\0" * 16)
h = dict(hdr); k = next(x for x in h if x.endswith("q_lin.weight")); del h[k]
# drop one tensor but keep the buffer contiguous by zero-sized re-layout: rebuild the file
def rebuild(hd):
    out, pos, ents = b"", 0, {}
    for name, e in sorted(hd.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
        if name == "__metadata__": ents[name] = e; continue
        b0, b1 = e["data_offsets"]; chunk = buf[b0:b1]
        ents[name] = dict(e, data_offsets=[pos, pos + len(chunk)]); out += chunk; pos += len(chunk)
    return ents, out
ents, data = rebuild(h)
st("st_missing", header=ents, data=data)
open("missing_name", "w").write(k)
PY
row "file shorter than 8 bytes" $LB predict --model st_short "x"
row "header length above the maximum" $LB predict --model st_hugehdr "x"
row "header length past end of file" $LB predict --model st_pasthdr "x"
row "control byte in header" $LB predict --model st_ctrl "x"
row "header not UTF-8" $LB predict --model st_utf8 "x"
row "header not an object" $LB predict --model st_notobj "x"
row "header not valid JSON" $LB predict --model st_badjson "x"
row "unknown dtype" $LB predict --model st_dtype "x"
row "valid but unsupported dtype (F8_E4M3)" $LB predict --model st_fp8 "x"
row "shape x dtype differs from data_offsets span" $LB predict --model st_span "x"
row "data_offsets with a hole" $LB predict --model st_hole "x"
row "negative shape" $LB predict --model st_negshape "x"
row "truncated file (last 100 bytes cut)" $LB predict --model st_trunc "x"
row "trailing bytes after the last tensor" $LB predict --model st_trail "x"
row "model tensor missing ($(cat missing_name))" $LB predict --model st_missing "x"

# --- texts
row "empty text" $LB predict --model m ""
row "invalid UTF-8 text" $LB predict --model m $'caf\xc3 \xff'
printf 'ok\n\xff\xfe\n' >bad_utf8.txt
row "invalid UTF-8 line on stdin" sh -c "$LB predict --model m < bad_utf8.txt"

# --- datasets (eval)
printf 'text,label\n"good,1\nbad,0\n' >unterminated.csv
printf 'text,label\ngood,1,extra\n' >fields.csv
printf '{"text":"good","label":1}\n{"text":"bad","label":\n' >bad.jsonl
printf '[{"text":"good","label":1}\n' >bad.json
PQ="$SHARED/data/parquet/alltypes_plain.parquet"
if [ -f "$PQ" ]; then
    head -c 600 "$PQ" >trunc.parquet                       # first 600 of its 1851 bytes
    python3 -c 'import sys; b = bytearray(open(sys.argv[1], "rb").read()); b[-8:-4] = (1 << 30).to_bytes(4, "little"); open("footer.parquet", "wb").write(b)' "$PQ"
else
    { printf 'PAR1'; head -c 600 /dev/zero; } >trunc.parquet
    { printf 'PAR1'; head -c 64 /dev/zero; printf '\x00\x00\x00\x40PAR1'; } >footer.parquet
fi
printf 'NOTPARQUETATALL' >garbage.parquet
printf 'text,label\ngood,1\nbad,5\n' >range.csv
printf 'text,label\ngood,1\nbad,-1\n' >neg.csv
printf 'text,label\ngood,1\nbad,x\n' >nonint.csv
printf 'text,label\n' >empty.csv
: >zero.csv
printf 'review,label\ngood,1\n' >nocol.csv
printf 'text,label\n"",1\n' >emptytext.csv
row "CSV: unterminated quote" $LB eval --model m --data unterminated.csv
row "CSV: row with an extra field" $LB eval --model m --data fields.csv
row "JSONL: malformed line" $LB eval --model m --data bad.jsonl
row "JSON: unterminated array" $LB eval --model m --data bad.json
row "Parquet: truncated file" $LB eval --model m --data trunc.parquet
row "Parquet: footer length beyond the file" $LB eval --model m --data footer.parquet
row "Parquet: not a Parquet file" $LB eval --model m --data garbage.parquet
row "label out of range (5 on 2 labels)" $LB eval --model m --data range.csv
row "negative label (-1 is not a class id: a label name beside class id 1)" $LB eval --model m --data neg.csv
printf '{"text":"good","label":1}\n{"text":"bad","label":-1}\n' >neg.jsonl
row "negative JSON integer label" $LB eval --model m --data neg.jsonl
row "class ids and label names in one column (1 and x)" $LB eval --model m --data nonint.csv
printf 'text,label\ngood,+1\nbad,0\n' >plus.csv
row "\"+1\" is a label name, not class 1" $LB eval --model m --data plus.csv
printf 'text,label\ngood,favorable\nbad,unfavorable\n' >fav.csv
row "eval: label names the model does not have" $LB eval --model m --data fav.csv --json
printf 'text,label\ngood,99999999999\n' >huge.csv
row "class id too large" $LB eval --model m --data huge.csv
printf '{"text":"good","label":0.5}\n' >float.jsonl
row "non-integer number as label" $LB eval --model m --data float.jsonl
printf '[{"text":"good","label":1.0}]\n' >one.json
row "a whole number written as a float (\`1.0\`, JSONL or a \`.json\` array) as label" $LB eval --model m --data one.json
row "missing text column" $LB eval --model m --data nocol.csv
row "missing label column (--label-column y)" $LB eval --model m --data range.csv --label-column y
row "empty dataset (header only)" $LB eval --model m --data empty.csv
row "empty file" $LB eval --model m --data zero.csv
row "empty text in a dataset" $LB eval --model m --data emptytext.csv
row "data file missing" $LB eval --model m --data nope.csv
cp range.csv data.txt
row "unknown data extension (.txt)" $LB eval --model m --data data.txt

# --- adapters
mkdir -p ad_nohead ad_bin ad_shape ad_peft
cp "$G"/lora/adapter_config.json ad_nohead/ && cp "$G"/lora/adapter_config.json ad_bin/ && echo x >ad_bin/adapter_model.bin
python3 - "$G/lora/adapter_model.safetensors" <<'PY'
import json, struct, sys
src = open(sys.argv[1], "rb").read(); n = struct.unpack("<Q", src[:8])[0]
hdr, buf = json.loads(src[8:8 + n]), src[8 + n:]
def write(path, keep):
    ents, out, pos = {}, b"", 0
    for k, e in sorted(hdr.items(), key=lambda kv: kv[1]["data_offsets"][0] if kv[0] != "__metadata__" else -1):
        if k == "__metadata__" or not keep(k): continue
        c = buf[e["data_offsets"][0]:e["data_offsets"][1]]
        ents[k] = dict(e, data_offsets=[pos, pos + len(c)]); out += c; pos += len(c)
    h = json.dumps(ents).encode(); open(path, "wb").write(struct.pack("<Q", len(h)) + h + out)
write("ad_nohead/adapter_model.safetensors", lambda k: "classifier" not in k)
PY
cp "$G"/lora/* ad_shape/ && sed -i 's/"r": 4/"r": 8/' ad_shape/adapter_config.json
cp "$G"/lora/* ad_peft/ && sed -i 's/"peft_type": "LORA"/"peft_type": "IA3"/' ad_peft/adapter_config.json
mkdir -p ad_tgt && cp "$G"/lora/* ad_tgt/ && sed -i 's/"q_lin"/"c_attn"/' ad_tgt/adapter_config.json
row "adapter head tensor missing" $LB predict --model m --adapter ad_nohead "x"
row "adapter_model.bin only" $LB predict --model m --adapter ad_bin "x"
row "adapter of another rank (config r 8, tensors r 4)" $LB predict --model m --adapter ad_shape "x"
row "adapter peft_type IA3" $LB predict --model m --adapter ad_peft "x"
row "adapter target module unknown" $LB predict --model m --adapter ad_tgt "x"
mkdir -p ad_pissa && cp "$G"/lora/* ad_pissa/ && sed -i 's/"init_lora_weights": true/"init_lora_weights": "pissa_niter_4"/' ad_pissa/adapter_config.json
row "adapter init_lora_weights pissa / olora / loftq saved unconverted by PEFT (it fits only the base PEFT rewrote; lorabert's own pissa / olora runs save converted)" $LB predict --model m --adapter ad_pissa "x"
mkdir -p ad_mts && cp "$G"/lora/* ad_mts/ && sed -i 's/"modules_to_save": null/"modules_to_save": ["classifier", "ffn"]/' ad_mts/adapter_config.json
row "adapter modules_to_save beyond the head" $LB predict --model m --adapter ad_mts "x"
mkdir -p ad_rank && cp "$G"/lora/* ad_rank/ && sed -i 's/"rank_pattern": {}/"rank_pattern": {"q_lin": 8}/' ad_rank/adapter_config.json
row "adapter rank_pattern its tensors do not follow" $LB predict --model m --adapter ad_rank "x"
row "adapter folder missing" $LB predict --model m --adapter ./nope "x"
mkdir -p ad_badjson && cp "$G"/lora/* ad_badjson/ && echo '{"r": 4,' >ad_badjson/adapter_config.json
row "adapter_config.json not JSON" $LB predict --model m --adapter ad_badjson "x"
mkdir -p ad_badlabels && cp "$G"/lora/* ad_badlabels/ && echo '{"id2label": {' >ad_badlabels/labels.json
row "labels.json not JSON" $LB eval --model m --adapter ad_badlabels --data range.csv
# --- non-finite numbers (one NaN weight in the encoder: torch gives NaN logits)
mk nanw && python3 - nanw/model.safetensors <<'PY'
import json, struct, sys
p = sys.argv[1]; b = bytearray(open(p, "rb").read()); n = struct.unpack("<Q", b[:8])[0]
off = 8 + n + json.loads(b[8:8 + n])["distilbert.transformer.layer.0.attention.q_lin.weight"]["data_offsets"][0]
b[off:off + 4] = struct.pack("<f", float("nan")); open(p, "wb").write(b)
PY
printf 'text,label\ngood,1\nbad,0\n' >ok.csv
row "eval: NaN weights (non-finite logits)" $LB eval --model nanw --data ok.csv --json
cp -r "$G/lora" ad_nan
row "merge: NaN weights (nothing written)" $LB merge --model nanw --adapter ad_nan --output nanmerged
row "train: NaN weights (non-finite loss)" $LB train --model nanw --train ok.csv --validation ok.csv --epochs 1
row "merge without --output" $LB merge --model m --adapter "$G/lora"
# --- output folders (docs/training.md "What --output DIR holds")
cp -r "$G/lora" ad_copy
row "merge --output is the --model folder" $LB merge --model m --adapter ad_copy --output m
row "merge --output inside the --adapter folder" $LB merge --model m --adapter ad_copy --output ad_copy/merged
mkdir -p outer && cp -r m outer/m
row "merge --output holds the --model folder" $LB merge --model outer/m --adapter ad_copy --output outer
mkdir -p mo && touch mo/notes.txt
row "merge --output holds other files" $LB merge --model m --adapter ad_copy --output mo
row "merge --output empty" $LB merge --model m --adapter ad_copy --output ''
printf 'text,label\ngood,1\nbad,0\n' >two.csv
row "train --output empty" $LB train --model m --train two.csv --validation two.csv --output ''
mkdir -p prev/checkpoint-8 && touch prev/adapter_model.safetensors
row "train into another run's folder" $LB train --model m --train two.csv --validation two.csv --output prev
mkdir -p foreign && touch foreign/notes.txt
row "train --overwrite-output-dir over other files" $LB train --model m --train two.csv --validation two.csv --output foreign --overwrite-output-dir
( exec 9>.busy.lock; flock 9; echo 4242 >&9; exec sleep 10 ) & lockpid=$!
for _ in $(seq 50); do [ -s .busy.lock ] && break; sleep 0.1; done
row "output folder locked by another process" $LB train --model m --train two.csv --validation two.csv --output busy
kill $lockpid 2>/dev/null; wait $lockpid 2>/dev/null

# --- hub (look-alike server from tests/support/hubserver.sh)
row "hub 404 (no such repo)" $LB download org/nope
row "hub 401 (private repo, no token)" $LB download org/private
row "hub offline, not cached (HF_HUB_OFFLINE=1)" env HF_HUB_OFFLINE=1 $LB download org/other
row "hub unreachable" env HF_ENDPOINT=http://127.0.0.1:1 $LB download solo
row "predict with a repo id that does not exist" $LB predict --model org/nope "x"
# refusals (issue 10 §2): repo ids, revisions, tokens, schemes, sizes
row "hub repo id with '?' and '#'" $LB download 'org/x?y=1#'
row "hub repo id with '--'" $LB download org--x/y
row "hub repo id name longer than 96" $LB download "org/$(printf 'a%.0s' $(seq 97))"
row "hub revision leaving refs/" $LB download org/tiny --revision ../x
HF_TOKEN=$'hf_x\r\nX-Injected: 1' row "HF_TOKEN with CR LF (set to \$'hf_x\\r\\nX-Injected: 1')" $LB download org/tiny
printf 'hf_x\nX-Injected: 1\n' >tok
row "token file with a line break inside (HF_TOKEN_PATH)" env HF_TOKEN_PATH=tok $LB download org/tiny
row "HF_ENDPOINT not http(s)" env HF_ENDPOINT=gopher://127.0.0.1:6379 $LB download org/tiny
row "HF_ENDPOINT without a scheme" env HF_ENDPOINT=127.0.0.1:8080 $LB download org/tiny
echo '{"location": {"model.safetensors": "gopher://127.0.0.1:6379/_SET%20k%201"}}' >"$HUB_ROOT/control.json"
row "hub redirects a file to gopher:// (no connection is made)" $LB download org/tiny --include model.safetensors
echo '{"api_location": {"org/tiny": "dict://127.0.0.1:2628/info"}}' >"$HUB_ROOT/control.json"
row "hub API redirects to dict:// (libcurl refuses to follow)" $LB download org/tiny
echo '{"cdn_location": {"model.safetensors": "file:///etc/passwd"}}' >"$HUB_ROOT/control.json"
row "CDN redirects to file:// (no local file is read)" $LB download org/tiny --include model.safetensors
echo '{"oversize": {"model.safetensors": 33554432}}' >"$HUB_ROOT/control.json"
row "file body beyond its declared size (32 MB more, no Content-Length)" $LB download org/tiny --include model.safetensors
echo '{"bigapi": {"org/tiny": 17000000}}' >"$HUB_ROOT/control.json"
row "API answer above the 16 MiB cap" $LB download org/tiny
echo '{}' >"$HUB_ROOT/control.json"

# --- CLI options
row "unknown command" $LB frobnicate
row "unknown option" $LB predict --model m --bogus "x"
row "option without its value" $LB predict --model
row "bad number" $LB predict --model m --max-length abc "x"
row "number out of range" $LB eval --model m --data range.csv --batch-size 0
row "bad --truncation" $LB predict --model m --truncation middle "x"
row "bad --precision" $LB predict --model m --precision fp16 "x"
row "train --precision int8 (inference only)" $LB train --model m --train two.csv --validation two.csv --precision int8
row "--labels count differs from the head" $LB predict --model m --labels a,b,c "x"
printf 'text,label\ngood,pos\nbad,neg\n' >str.csv
row "train: --labels given that do not name the string labels" $LB train --model m --train str.csv --validation str.csv --labels Negative,Positive --epochs 1
row "train: --labels naming a class twice" $LB train --model m --train str.csv --validation str.csv --labels pos,neg,pos --epochs 1
row "train: class ids in --train, label names in --validation" $LB train --model m --train two.csv --validation str.csv --epochs 1
row "train: class id beyond --labels" $LB train --model m --train range.csv --validation range.csv --epochs 1
row "train: default --labels do not name the string labels (a notice; trains on their sorted values)" $LB train --model m --train str.csv --validation str.csv --epochs 1 --output strrun
row "train: --lora-dropout 1" $LB train --model m --train range.csv --validation range.csv --lora-dropout 1
row "train: unknown --target-modules" $LB train --model m --train range.csv --validation range.csv --target-modules c_attn
row "train: --lora-init loftq (an init lorabert does not have)" $LB train --model m --train range.csv --validation range.csv --lora-init loftq
row "train: --lora-init pissa_niter_K (PEFT's randomized SVD)" $LB train --model m --train range.csv --validation range.csv --lora-init pissa_niter_4
printf 'text,label\ngood,1\nbad,0\nfine,1\nawful,0\n' >pis.csv
row "train: --lora-init pissa / olora with DoRA" $LB train --model m --train pis.csv --no-eval --lora-init pissa --use-dora --output pout
row "train: --lora-init pissa / olora with --use-rslora and rank/alpha patterns" $LB train --model m --train pis.csv --no-eval --lora-init olora --use-rslora --lora-rank-pattern lin1=2 --target-modules q_lin,lin1 --output pout
row "train: --lora-init pissa / olora on ModernBERT" $LB train --model mb --train rdata.csv --no-eval --lora-init pissa --output pout
mk mnan && python3 - mnan/model.safetensors <<'PY'
import json, struct, sys
b = bytearray(open(sys.argv[1], "rb").read())
n = struct.unpack("<Q", b[:8])[0]
h = json.loads(b[8:8 + n])
k = next(k for k in h if k.endswith("layer.0.attention.q_lin.weight"))
b[8 + n + h[k]["data_offsets"][0] + 17 * 4:8 + n + h[k]["data_offsets"][0] + 18 * 4] = struct.pack("<f", float("nan"))
open(sys.argv[1], "wb").write(b)
PY
row "pissa / olora init on a weight holding NaN or Inf" $LB train --model mnan --train pis.csv --no-eval --lora-init pissa --output pout
row "train: --lora-rank-pattern with Python-only regex" $LB train --model m --train range.csv --validation range.csv --lora-rank-pattern 'layer\.\d\.q_lin=8'
row "train: --loraplus-lr-ratio -1" $LB train --model m --train range.csv --validation range.csv --loraplus-lr-ratio -1
head -3 range.csv | sed 's/,5$/,0/' >two.csv
row "train: an epoch that is not whole steps (--gradient-accumulation-steps)" $LB train --model m --train two.csv --no-eval --batch-size 1 --gradient-accumulation-steps 3 --epochs 1 --output accum
row "train: --label-smoothing-factor 1" $LB train --model m --train two.csv --no-eval --label-smoothing-factor 1 --output ls
row "train: class weights with label smoothing" $LB train --model m --train two.csv --no-eval --label-smoothing-factor 0.1 --class-weights auto --output ls
row "train: --lora-rank-pattern and --lora-alpha-pattern PEFT versions read differently" $LB train --model m --train two.csv --no-eval --lora-rank-pattern q_lin=8 --lora-alpha-pattern layer.0.attention.q_lin=16 --output pat
row "train: --class-weights count differs from the labels" $LB train --model m --train two.csv --no-eval --class-weights 1,2,3 --output cw
row "train: --class-weights not a number > 0" $LB train --model m --train two.csv --no-eval --class-weights 1,-2 --output cw
printf 'text,label\ngood,1\nfine,1\n' >ones.csv
row "train: --class-weights auto with a label absent from the training set" $LB train --model m --train ones.csv --no-eval --class-weights auto --output cw
row "train: --eval-strategy steps with --save-strategy epoch (load_best_model_at_end)" $LB train --model m --train two.csv --validation two.csv --eval-strategy steps --output st
row "train: --save-steps not a round multiple of --eval-steps" $LB train --model m --train two.csv --validation two.csv --eval-strategy steps --eval-steps 3 --save-strategy steps --save-steps 4 --output st2
row "train: --eval-steps a ratio, --save-steps a step count" $LB train --model m --train two.csv --validation two.csv --eval-strategy steps --eval-steps 0.3 --save-strategy steps --save-steps 4 --output st3
row "train: early stopping with --load-best-model-at-end false" $LB train --model m --train two.csv --validation two.csv --load-best-model-at-end false --early-stopping-patience 1 --output st4
row "train: --eval-steps 2.5" $LB train --model m --train two.csv --validation two.csv --eval-strategy steps --eval-steps 2.5
row "eval without --data" $LB eval --model m
