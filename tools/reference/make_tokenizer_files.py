"""Builds real non-WordPiece tokenizer.json files offline (no hub), for the tokenizer differential
(tools/reference/tokenizer_pipeline_oracle.py, tests/unit/test_tokenizer_pipeline.c).

Trained on the IMDb reviews (SHARED/data/imdb/train.jsonl) with the pinned packages:
  bpe_roberta/     tokenizers BPE + ByteLevel(add_prefix_space=True) + RobertaProcessing, RoBERTa's
                   specials (<mask> with lstrip), like roberta-base's file
  bpe_modernbert/  tokenizers BPE + ByteLevel(add_prefix_space=False) + TemplateProcessing
                   [CLS] $A [SEP] / $B:1, like ModernBERT's file, plus a non-special added token
  bpe_suffix/      tokenizers BPE + BertPreTokenizer, unk_token (a 60-char alphabet so unknown chars
                   occur), continuing_subword_prefix "##", end_of_word_suffix "</w>"
  bpe_bytefallback/ tokenizers BPE (50-char alphabet) + fuse_unk + byte_fallback with byte tokens
                   <0x00>..<0xFF> minus 0xA0..0xAF (so some chars still become unk)
  unigram/         tokenizers Unigram + Replace(``/'' -> ") + Metaspace + TemplateProcessing
  xlmr_spm/        sentencepiece Unigram (nmt_nfkc) converted with transformers' XLMRobertaConverter:
                   Precompiled charsmap + Replace(" {2,}") + Metaspace + <s> $A </s> </s> $B </s>
Each folder gets tokenizer.json only. Deterministic for a given package set (single-threaded training).

Usage: python make_tokenizer_files.py SHARED_DIR OUTDIR   (run with the pinned reference env)
"""
import json
import os
import sys
import tempfile

os.environ.setdefault("RAYON_NUM_THREADS", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from tokenizers import AddedToken, Tokenizer, models, normalizers, pre_tokenizers, processors, trainers  # noqa: E402


def texts(shared):
    out = []
    with open(os.path.join(shared, "data", "imdb", "train.jsonl"), encoding="utf-8") as f:
        for line in f:
            out.append(json.loads(line)["text"])
    return out


def save(tok, outdir, name):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    tok.save(os.path.join(d, "tokenizer.json"), pretty=False)


def bpe_roberta(corpus, outdir):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=True, trim_offsets=True)
    sp = ["<s>", "<pad>", "</s>", "<unk>"]
    tr = trainers.BpeTrainer(vocab_size=1200, min_frequency=2, special_tokens=sp,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, tr)
    tok.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False)])
    tok.post_processor = processors.RobertaProcessing(("</s>", tok.token_to_id("</s>")), ("<s>", tok.token_to_id("<s>")),
                                                      trim_offsets=True, add_prefix_space=True)
    save(tok, outdir, "bpe_roberta")


def bpe_modernbert(corpus, outdir):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True)
    sp = ["[UNK]", "[CLS]", "[SEP]", "[PAD]", "[MASK]"]
    tr = trainers.BpeTrainer(vocab_size=900, min_frequency=2, special_tokens=sp,
                             initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, tr)
    tok.add_tokens([AddedToken("<br />", normalized=False)])
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    save(tok, outdir, "bpe_modernbert")


def bpe_suffix(corpus, outdir):
    tok = Tokenizer(models.BPE(unk_token="[UNK]", continuing_subword_prefix="##", end_of_word_suffix="</w>"))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tr = trainers.BpeTrainer(vocab_size=800, min_frequency=2, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                             limit_alphabet=60, continuing_subword_prefix="##", end_of_word_suffix="</w>",
                             show_progress=False)
    tok.train_from_iterator(corpus, tr)
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.BertProcessing(("[SEP]", sep), ("[CLS]", cls))
    save(tok, outdir, "bpe_suffix")


def bpe_bytefallback(corpus, outdir):
    tok = Tokenizer(models.BPE(unk_token="[UNK]", fuse_unk=True))
    tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
    tr = trainers.BpeTrainer(vocab_size=700, min_frequency=2, special_tokens=["[UNK]", "[CLS]", "[SEP]"],
                             limit_alphabet=50, show_progress=False)
    tok.train_from_iterator(corpus, tr)
    j = json.loads(tok.to_str())
    # Byte tokens <0x00>..<0xFF> except 0xA0..0xAF (so some chars fall back to unk), byte_fallback on.
    v = j["model"]["vocab"]
    for b in range(256):
        if not 0xA0 <= b <= 0xAF:
            v.setdefault("<0x%02X>" % b, len(v))
    j["model"]["byte_fallback"] = True
    tok = Tokenizer.from_str(json.dumps(j))
    cls, sep = tok.token_to_id("[CLS]"), tok.token_to_id("[SEP]")
    tok.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                       special_tokens=[("[CLS]", cls), ("[SEP]", sep)])
    save(tok, outdir, "bpe_bytefallback")


def unigram(corpus, outdir):
    tok = Tokenizer(models.Unigram())
    tok.normalizer = normalizers.Sequence([normalizers.Replace("``", '"'), normalizers.Replace("''", '"')])
    tok.pre_tokenizer = pre_tokenizers.Metaspace(replacement="\u2581", add_prefix_space=True)
    tr = trainers.UnigramTrainer(vocab_size=1000, special_tokens=["<pad>", "<unk>", "<s>", "</s>"], unk_token="<unk>",
                                 show_progress=False)
    tok.train_from_iterator(corpus, tr)
    s, e = tok.token_to_id("<s>"), tok.token_to_id("</s>")
    tok.post_processor = processors.TemplateProcessing(single="<s> $A </s>", pair="<s> $A </s> </s> $B </s>",
                                                       special_tokens=[("<s>", s), ("</s>", e)])
    save(tok, outdir, "unigram")


def xlmr_spm(corpus, outdir):
    import sentencepiece as spm
    from transformers import XLMRobertaTokenizer
    from transformers.convert_slow_tokenizer import convert_slow_tokenizer

    with tempfile.TemporaryDirectory() as tmp:
        txt = os.path.join(tmp, "corpus.txt")
        with open(txt, "w", encoding="utf-8") as f:
            for t in corpus:
                f.write(t.replace("\n", " ") + "\n")
        prefix = os.path.join(tmp, "spm")
        spm.SentencePieceTrainer.train(input=txt, model_prefix=prefix, vocab_size=1500, model_type="unigram",
                                       normalization_rule_name="nmt_nfkc", character_coverage=0.9995,
                                       num_threads=1, minloglevel=2, seed_sentencepiece_size=200000)
        slow = XLMRobertaTokenizer(vocab_file=prefix + ".model")
        fast = convert_slow_tokenizer(slow)
        # from_pretrained adds the specials; here they are added as XLM-R's tokenizer.json has them.
        fast.add_special_tokens([AddedToken(t, normalized=False) for t in ("<s>", "<pad>", "</s>", "<unk>")])
        fast.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=False, normalized=False)])
        save(fast, outdir, "xlmr_spm")


def main():
    shared, outdir = sys.argv[1], sys.argv[2]
    corpus = texts(shared)
    os.makedirs(outdir, exist_ok=True)
    for fn in (bpe_roberta, bpe_modernbert, bpe_suffix, bpe_bytefallback, unigram, xlmr_spm):
        fn(corpus, outdir)
        print("wrote", fn.__name__, file=sys.stderr)


if __name__ == "__main__":
    main()
