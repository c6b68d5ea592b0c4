#!/usr/bin/env python3
"""Random JSON Lines files written by Python's json module, for tests/unit/test_data.c.

  jsonl_ref.py gen DIR N   writes DIR/case_<i>.jsonl and DIR/case_<i>.expect for i < N; seeded.
The .expect file has one line per data row and one tab-separated "col type value" triple per
non-null cell, value escaped as JSON string (type: int, float (repr), str, bool, json).
Standard library only (any python3).
"""
import json, os, random, sys

CHARS = ["a", "Z", " ", "\"", "\\", "/", "\n", "\t", "\r", "\b", "\u00e9", "\u4e2d", "\U0001F600", "\u2028", "'", "<br />", "\x01"]


def value(rng, depth=0):
    k = rng.randint(0, 8 if depth == 0 else 6)
    if k == 0: return None
    if k == 1: return rng.choice([True, False])
    if k == 2: return rng.choice([0, 1, -1, 42, 2**53 + 1, -(2**63), 2**63 - 1, rng.randint(-10**6, 10**6)])
    if k == 3: return rng.choice([0.5, -2.25, 1e-7, 1.0, 3e20, rng.uniform(-1e3, 1e3)])
    if k <= 6: return "".join(rng.choice(CHARS) for _ in range(rng.randint(0, 6)))
    if k == 7: return [value(rng, depth + 1) for _ in range(rng.randint(0, 3))]
    return {"k%d" % j: value(rng, depth + 1) for j in range(rng.randint(0, 2))}


def describe(v):
    if isinstance(v, bool): return "bool", "1" if v else "0"
    if isinstance(v, int): return "int", str(v)
    if isinstance(v, float): return "float", repr(v)
    if isinstance(v, str): return "str", v
    return "json", json.dumps(v, separators=(",", ":"), ensure_ascii=False)


def gen(d, n):
    os.makedirs(d, exist_ok=True)
    rng = random.Random(99)
    for i in range(n):
        keys = ["text", "label", "extra", "k\u00e9y", "sp ace"]
        lines, expect = [], []
        for _ in range(rng.randint(0, 6)):
            ks = rng.sample(keys, rng.randint(0, len(keys)))
            obj = {k: value(rng) for k in ks}
            s = json.dumps(obj, ensure_ascii=rng.random() < 0.5,
                           separators=rng.choice([(",", ":"), (", ", ": ")]), indent=None)
            lines.append(s)
            expect.append("\t".join("%s %s %s" % (json.dumps(k), *(lambda t: (t[0], json.dumps(t[1])))(describe(v)))
                                    for k, v in obj.items() if v is not None))
            if rng.random() < 0.2:
                lines.append(rng.choice(["", "   ", "\t"]))  # blank lines are skipped
        text = "\n".join(lines) + rng.choice(["", "\n"])
        with open(os.path.join(d, "case_%03d.jsonl" % i), "w", encoding="utf-8", newline="") as fp:
            fp.write(text)
        with open(os.path.join(d, "case_%03d.expect" % i), "w", encoding="utf-8", newline="") as fp:
            fp.write("".join(e + "\n" for e in expect))


if __name__ == "__main__":
    if sys.argv[1] != "gen":
        sys.exit("usage: jsonl_ref.py gen DIR N")
    gen(sys.argv[2], int(sys.argv[3]))
