"""Differential oracle for lorabert's tokenizer pipeline: HF tokenizers' Tokenizer.from_file(...).encode on
  - the 2000 IMDb reviews (train + validation), full length, then again with max_length 128 (left / right),
  - the WordPiece oracle's edge cases (SHARED/data/tokenizer/oracle/edge_cases.jsonl), with and without specials,
  - N random texts (default 20000) from a seeded generator mixing scripts, emoji (ZWJ, flags, skin tones),
    whitespace runs, combining marks, CJK, Hangul jamo, contractions, digits, the files' special tokens,
    NFKC-sensitive characters and random code points; every 4th one also as a pair with the next text
    (type ids checked), some pairs with longest_first truncation.
for every tokenizer.json under FILES_DIR/*/ (and any extra files given).

Writes OUT/cases.tsv (one case per line: mode max_length left specials hexA hexB; mode s|p, hex of UTF-8
bytes, '-' for no B) and OUT/<name>.ids (line i: ids of case i, ' '-separated, then '|' and the type ids).
tests/unit/test_tokenizer_pipeline.c compares lorabert with these, exactly.

Usage: python tokenizer_pipeline_oracle.py SHARED_DIR FILES_DIR OUT [N] [SEED] [EXTRA_NAME=PATH ...]
"""
import glob
import json
import os
import random
import sys

from tokenizers import Tokenizer

RANGES = [  # (lo, hi) code point blocks the generator draws from
    (0x41, 0x5A), (0x61, 0x7A), (0x30, 0x39), (0xC0, 0x24F), (0x370, 0x3FF), (0x400, 0x4FF), (0x590, 0x5FF),
    (0x600, 0x6FF), (0x900, 0x97F), (0xE00, 0xE7F), (0x1100, 0x11FF), (0x3040, 0x30FF), (0x4E00, 0x4FFF),
    (0xAC00, 0xAD00), (0xFF01, 0xFF5E), (0x2000, 0x206F), (0x2100, 0x214F), (0x2460, 0x24FF), (0x1F300, 0x1F6FF),
    (0x1F900, 0x1F9FF), (0x300, 0x36F), (0x1AB0, 0x1AFF), (0x20000, 0x2000F), (0xE000, 0xE00F), (0xFE00, 0xFE0F),
    (0x1D400, 0x1D4FF), (0x10000, 0x1000F), (0x11F00, 0x11F5F), (0x0, 0x1F), (0x7F, 0xA0),
]
PIECES = [
    "the", "movie", "was", "GREAT", "Hello", "don't", "it's", "I'm", "we're", "they've", "you'll", "he'd", "'S", "'T",
    "'", "''", "``", "10/10", "$5", "1990s", "e-mail", "naïve", "Café", "résumé", "Straße", "İstanbul", "ﬁne", "Ⅻ", "½",
    "x²", "€", "…", "—", "“", "”", "‘", "’", "中文", "日本語", "한국어", "\u1100\u1161\u11a8", "😀", "👍🏽", "👨‍👩‍👧",
    "🇫🇷", "🏳️‍🌈", "e\u0301", "a\u0300\u0316", "\u0301", "\u0308", "\u093F", "क्ष", "\u0E33", "\u200B", "\u200D",
    "\u00AD", "\uFEFF", "\u0085", "\x00", "\x07", "\x0b", "\x0c", "\x1f", "\x7f", "\uFFFD", "\u2581", "\u2581\u2581",
    " ", "  ", "   ", "\t", "\n", "\n\n", "\r\n", " \n ", "\u00A0", "\u2003", "\u3000", "\u2028", "\u202F", "\u180E",
    "!", "?", ".", ",", ";", ":", "-", "_", "(", ")", '"', "<br />", "<br/>", "/", "\\", "@", "&", "*", "=", "~",
    "<s>", "</s>", "<pad>", "<unk>", "<mask>", "[CLS]", "[SEP]", "[UNK]", "[MASK]", "[PAD]", "<0x41>", "Ġ", "Ċ", "##",
    "</w>", "ｗｏｒｌｄ", "①", "㍿", "ﾊﾝｶｸ", "Å", "Å", "ǅ", "ﬀ", "\U0001D400", "\U00020000", "\u0378", "\U000E0001",
]


def random_text(rng):
    parts = []
    for _ in range(rng.randint(0, 16)):
        r = rng.random()
        if r < 0.55:
            p = rng.choice(PIECES)
        elif r < 0.85:
            lo, hi = rng.choice(RANGES)
            p = "".join(chr(rng.randint(lo, hi)) for _ in range(rng.randint(1, 6)))
        elif r < 0.95:
            p = rng.choice([" ", "\t", "\n", "\u3000", "\u00A0"]) * rng.randint(1, 7)
        else:
            cp = rng.randint(0, 0x10FFFF)
            while 0xD800 <= cp <= 0xDFFF:
                cp = rng.randint(0, 0x10FFFF)
            p = chr(cp)
        if rng.random() < 0.02:
            p = rng.choice(["ab", "xy", "é", "中", "1"]) * rng.randint(50, 400)
        parts.append(p)
        if rng.random() < 0.4:
            parts.append(" ")
    return "".join(parts)


def hx(s):
    return s.encode("utf-8").hex() if s else ""


def main():
    shared, files_dir, out = sys.argv[1], sys.argv[2], sys.argv[3]
    n = int(sys.argv[4]) if len(sys.argv) > 4 else 20000
    rng = random.Random(int(sys.argv[5]) if len(sys.argv) > 5 else 20251202)
    extra = dict(a.split("=", 1) for a in sys.argv[6:])
    os.makedirs(out, exist_ok=True)
    cases = []  # (mode, max_length, left, specials, a, b)
    reviews = []
    for split in ("train", "validation"):
        with open(os.path.join(shared, "data", "imdb", split + ".jsonl"), encoding="utf-8") as f:
            reviews += [json.loads(line)["text"] for line in f]
    for t in reviews:
        cases.append(("s", 0, 0, 1, t, None))
    for i, t in enumerate(reviews):
        cases.append(("s", 128, i % 2, 1, t, None))
    with open(os.path.join(shared, "data", "tokenizer", "oracle", "edge_cases.jsonl"), encoding="utf-8") as f:
        edges = [json.loads(line)["text"] for line in f]
    for t in edges:
        cases.append(("s", 0, 0, 1, t, None))
        cases.append(("s", 0, 0, 0, t, None))
    texts = [random_text(rng) for _ in range(n)]
    for i, t in enumerate(texts):
        cases.append(("s", 0, 0, 1, t, None))
        if i % 4 == 0:
            ml = rng.choice([0, 0, 8, 16, 40])
            cases.append(("p", ml, rng.randint(0, 1) if ml else 0, rng.choice([1, 1, 0]), t, texts[(i + 1) % n]))
    with open(os.path.join(out, "cases.tsv"), "w") as f:
        for m, ml, left, sp, a, b in cases:
            f.write(f"{m}\t{ml}\t{left}\t{sp}\t{hx(a) or '-'}\t{hx(b) if b is not None else '-'}\n")
    files = {os.path.basename(os.path.dirname(p)): p for p in sorted(glob.glob(os.path.join(files_dir, "*", "tokenizer.json")))}
    files.update(extra)
    for name, path in files.items():
        tok = Tokenizer.from_file(path)
        tok.no_padding()  # lorabert pads later, in batching
        with open(os.path.join(out, name + ".ids"), "w") as f:
            for m, ml, left, sp, a, b in cases:
                if ml:
                    tok.enable_truncation(ml, strategy="longest_first", direction="left" if left else "right")
                else:
                    tok.no_truncation()
                e = tok.encode(a, b, add_special_tokens=bool(sp)) if b is not None else tok.encode(a, add_special_tokens=bool(sp))
                f.write(" ".join(map(str, e.ids)) + "|" + (" ".join(map(str, e.type_ids)) if b is not None else "") + "\n")
        print(f"{name}: {len(cases)} cases", file=sys.stderr)
    # The committed files are named relative to the checkout (tests/golden/tokenizers/NAME/...), so
    # one oracle serves every clone; a file from elsewhere (a PyPI package's) keeps its absolute path.
    root = os.path.abspath(os.path.join(files_dir, "..", "..", ".."))
    with open(os.path.join(out, "files.txt"), "w") as f:
        for name, path in files.items():
            ap = os.path.abspath(path)
            rel = os.path.relpath(ap, root)
            f.write(f"{name}\t{rel if not rel.startswith('..') else ap}\n")


if __name__ == "__main__":
    main()
