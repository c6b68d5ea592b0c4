"""Per-code-point golden for lorabert's BertNormalizer + BertPreTokenizer (tests/unit/test_tokenizer.c).

For every Unicode scalar value c, runs HF tokenizers' BertNormalizer and BertPreTokenizer on "a" + c + "b"
and records the resulting pieces. Output lines: `CONFIG START END SIG`, one per run of consecutive code points
with the same signature, where SIG is the pieces joined by '|', each char written as itself if in [a-z],
'@' if it is c itself (unchanged), else {HEX}. Empty signature is written '-'.

Usage: python gen_tokenizer_unicode.py OUT   (run with the pinned reference env: tokenizers 0.13.3)
"""
import sys
import tokenizers
from tokenizers import normalizers, pre_tokenizers

CONFIGS = {
    "uncased": normalizers.BertNormalizer(),  # clean_text, chinese chars, strip_accents=None->on, lowercase
    "cased": normalizers.BertNormalizer(lowercase=False),  # strip_accents=None -> off
}
pre = pre_tokenizers.BertPreTokenizer()


def enc(ch, cp):
    if ch == chr(cp):
        return "@"
    if "a" <= ch <= "z":
        return ch
    return "{%X}" % ord(ch)


def sig(norm, cp):
    s = norm.normalize_str("a" + chr(cp) + "b")
    pieces = [p for p, _ in pre.pre_tokenize_str(s)]
    out = "|".join("".join(enc(ch, cp) for ch in p) for p in pieces)
    return out or "-"


def main():
    out = open(sys.argv[1], "w")
    out.write("# tokenizers %s: BertNormalizer + BertPreTokenizer on 'a'+c+'b' (tools/reference/gen_tokenizer_unicode.py)\n"
              % tokenizers.__version__)
    for name, norm in CONFIGS.items():
        start, prev = 0, None
        for cp in range(0x110000):
            if 0xD800 <= cp < 0xE000:
                s = None
            else:
                s = sig(norm, cp)
            if s != prev:
                if prev is not None:
                    out.write("%s %X %X %s\n" % (name, start, cp - 1, prev))
                start, prev = cp, s
        if prev is not None:
            out.write("%s %X %X %s\n" % (name, start, 0x10FFFF, prev))
    out.close()


if __name__ == "__main__":
    main()
