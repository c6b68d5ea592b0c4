#!/usr/bin/env python3
"""Random CSV/TSV files written by Python's csv module, for tests/unit/test_data.c.

  csv_ref.py gen DIR N   writes DIR/case_<i>.{csv,tsv} and DIR/case_<i>.json (the rows as a JSON
                         list of lists of strings, header first) for i < N; seeded, deterministic.
Fields mix delimiters, quotes, CR/LF/CRLF, tabs, spaces and non-ASCII; line ends and an optional
UTF-8 BOM vary per file. Standard library only (any python3).
"""
import csv, io, json, os, random, sys

PIECES = ["a", "word", "x y", ",", "\"", "\"\"", "\n", "\r\n", "\r", "\t", " ", "caf\u00e9", "\U0001F600", "'", ";", "0", "-1"]


def field(rng):
    return "".join(rng.choice(PIECES) for _ in range(rng.randint(0, 4)))


def gen(d, n):
    os.makedirs(d, exist_ok=True)
    rng = random.Random(1234)
    for i in range(n):
        delim = rng.choice([",", "\t"])
        ncols = rng.randint(1, 5)
        rows = [["c%d" % k for k in range(ncols)]]
        for _ in range(rng.randint(0, 6)):
            row = [field(rng) for _ in range(ncols)]
            if all(f == "" for f in row) and ncols > 1:
                row[0] = "z"  # an all-empty multi-column row would be read back as nulls: keep one value
            rows.append(row)
        buf = io.StringIO()
        lt = rng.choice(["\n", "\r\n"])
        if lt == "\n" and any("\r" in f for row in rows for f in row):
            lt = "\r\n"  # with "\n" the writer leaves a lone CR unquoted, which every reader takes as a line end
        w = csv.writer(buf, delimiter=delim, lineterminator=lt, quoting=csv.QUOTE_MINIMAL)
        w.writerows(rows)
        text = buf.getvalue()
        if rng.random() < 0.2:
            text = "\ufeff" + text
        if rng.random() < 0.3 and text.endswith("\n"):
            text = text.rstrip("\r\n")  # no final line end
        ext = "csv" if delim == "," else "tsv"
        with open(os.path.join(d, "case_%03d.%s" % (i, ext)), "w", encoding="utf-8", newline="") as fp:
            fp.write(text)
        with open(os.path.join(d, "case_%03d.json" % i), "w", encoding="utf-8") as fp:
            json.dump(rows, fp, ensure_ascii=False)


if __name__ == "__main__":
    if sys.argv[1] != "gen":
        sys.exit("usage: csv_ref.py gen DIR N")
    gen(sys.argv[2], int(sys.argv[3]))
