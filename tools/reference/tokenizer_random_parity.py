"""Differential test: `lorabert tokenize` vs transformers' DistilBertTokenizerFast (tokenizers 0.13.3) on random
texts built from tricky pieces (combining marks in any order, CJK, controls, new-Unicode characters, special-token
literals, long words, ...). Used by tests/cli/tokenize_hf_parity.sh; run with the pinned reference env.

Usage: python tokenizer_random_parity.py LORABERT_BIN SHARED_DIR [N] [SEED]
Exit status 0 when every text gives identical ids (two model folders x three truncation settings), else 1.
"""
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile

from transformers import DistilBertTokenizerFast

PIECES = [
    "the", "movie", "was", "GREAT", "Hello", "world", "don't", "re-release", "10/10", "$5", "e-mail", "a", "I",
    "unbelievable", "supercalifragilistic", "naïve", "Café", "résumé", "ÉCOLE", "Ångström", "jalapeño", "Straße", "İstanbul",
    "ı", "ΣΊΣΥΦΟΣ", "ς", "Ёлка", "ﬁne", "Ⅻ", "½", "x²", "€", "©", "™", "°", "…", "—", "–", "“", "”", "‘", "’", "«", "»",
    "中", "文", "日本語", "한국어", "\uF900", "\U00020000", "\u3400", "\U0002B820", "\U0002B920", "😀", "👍🏽", "🥰",
    "[CLS]", "[SEP]", "[MASK]", "[PAD]", "[UNK]", "[cls]", "[unused0]", "[", "]", "##", "#",
    "\u0301", "\u0327", "\u0316", "\u0345", "\u0308", "\u0307", "\u093F", "\U0001D165", "\U0001D16D", "\u0F71", "\u0F72",
    "\u061D", "\u0890", "\u08CA", "\u1ABF", "\u166D", "\U00011F00", "\U00011938", "\u0378", "\uE000", "\U000F0000",
    "\uFFFD", "\u200B", "\u200D", "\u00AD", "\uFEFF", "\u0085", "\x00", "\x07", "\x0b", "\x0c", "\x1f", "\x7f",
    " ", "  ", "\t", "\n", "\r", "\u00A0", "\u2003", "\u3000", "\u2028", "\u2029", "\u180E", "\u202F",
    "!", "?", ".", ",", ";", ":", "-", "_", "(", ")", "'", '"', "<br />", "/", "\\", "@", "&", "*", "+", "=", "~", "`", "^", "|",
    "\u00BF", "\u00A1", "\u055D", "\u060C", "\u3001", "\u3002", "\uFF01", "\uFF1F", "\u2E3A", "\u1FEF", "\u037E",
]


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 14)):
        p = rng.choice(PIECES)
        if rng.random() < 0.03:
            p = rng.choice("ab") * rng.choice([99, 100, 101, 150])
        parts.append(p)
        if rng.random() < 0.5:
            parts.append(" ")
    return "".join(parts)


def main():
    binary, shared = sys.argv[1], sys.argv[2]
    n = int(sys.argv[3]) if len(sys.argv) > 3 else 3000
    rng = random.Random(int(sys.argv[4]) if len(sys.argv) > 4 else 1234)
    texts = [random_text(rng) for _ in range(n)]
    tmp = tempfile.mkdtemp()
    try:
        tokdir = os.path.join(shared, "data", "tokenizer")
        a, b = os.path.join(tmp, "json"), os.path.join(tmp, "vocab")
        os.makedirs(a)
        os.makedirs(b)
        shutil.copy(os.path.join(tokdir, "tokenizer.shawhin-checkpoint.json"), os.path.join(a, "tokenizer.json"))
        shutil.copy(os.path.join(tokdir, "tokenizer_config.shawhin-checkpoint.json"), os.path.join(a, "tokenizer_config.json"))
        shutil.copy(os.path.join(tokdir, "vocab.txt"), os.path.join(b, "vocab.txt"))
        inp = "".join(json.dumps({"text": t}) + "\n" for t in texts).encode()
        bad = 0
        for d in (a, b):
            hf = DistilBertTokenizerFast.from_pretrained(d)
            for args, kw in (([], {}), (["--max-length", "16", "--truncation", "left"], {"max_length": 16, "truncation": True}),
                             (["--max-length", "16", "--no-special-tokens"], {"max_length": 16, "truncation": True,
                                                                              "add_special_tokens": False})):
                hf.truncation_side = "left" if "left" in args else "right"
                want = [hf(t, **kw)["input_ids"] for t in texts]
                r = subprocess.run([binary, "tokenize", "--model", d, "--jsonl"] + args, input=inp, capture_output=True)
                if r.returncode != 0:
                    print("lorabert failed:", r.stderr.decode()[:500])
                    return 1
                got = [json.loads(line)["input_ids"] for line in r.stdout.decode().splitlines()]
                for t, g, w in zip(texts, got, want):
                    if g != w:
                        bad += 1
                        if bad <= 10:
                            print("MISMATCH", os.path.basename(d), args, repr(t), "\n  lorabert", g, "\n  hf      ", w)
                if len(got) != len(want):
                    print("line count", len(got), "!=", len(want))
                    bad += 1
        print(f"{n} random texts x 2 folders x 3 settings: {bad} mismatches")
        return 1 if bad else 0
    finally:
        shutil.rmtree(tmp)


if __name__ == "__main__":
    sys.exit(main())
