#!/usr/bin/env python3
"""Writes Parquet fixtures with pyarrow covering every codec, encoding and page version the
lorabert reader supports, plus manifest.json with the exact values written.

Usage: make_parquet_fixtures.py OUTDIR [NROWS]   (default 2500 rows, 3 row groups; the fuzz seeds use fewer)
Exits 77 (the test suite's "skip") when pyarrow is not importable.

manifest.json: {"pyarrow": version, "num_rows", "kinds": {column: kind}, "data": {column: [cells]},
"fixtures": [{"file", "order": [columns], "num_rows", "unsupported": {column: message substring},
"kinds"?, "data"?}]}: a fixture holds the first num_rows rows of the listed columns of the shared data,
or of its own "kinds"/"data" when present (the random fixtures). Cells (exact, JSON-safe):
int -> decimal string, float -> float.hex() string, str/bytes -> hex of the raw bytes,
bool -> JSON bool, ts -> INT96 nanoseconds as a decimal string, null -> null.
"""
import json
import os
import random
import sys

try:
    import pyarrow as pa
    import pyarrow.parquet as pq
except ImportError:
    print("pyarrow is not installed in this python; skipping", file=sys.stderr)
    sys.exit(77)



def make_table(N):
    rng = random.Random(1234)
    i32, i64, u32, f32, f64, b, s, fx, ts = ([] for _ in range(9))
    words = ["", "a", "abc", "abcdef", "héllo wörld", "日本語テキスト", "emoji 😀 ok", "x" * 300, "prefix_shared_"]
    for r in range(N):
        i32.append(None if r % 7 == 3 else [0, 1, -1, 2**31 - 1, -(2**31), rng.randint(-1000, 1000)][r % 6])
        i64.append([2**63 - 1, -(2**63), 0, r * 1000003, -r, rng.randint(-(2**62), 2**62)][r % 6])
        u32.append([0, 2**32 - 1, 2**31, r][r % 4])
        f32.append(None if r % 11 == 5 else float(pa.scalar(rng.uniform(-1e6, 1e6), pa.float32()).as_py()))
        f64.append(None if r % 13 == 7 else [0.0, -0.0, 1.5e308, -2.5e-308, float("inf"), rng.gauss(0, 1)][r % 6])
        b.append(None if r % 5 == 4 else (r * 7919) % 3 == 0)
        w = words[r % len(words)]
        s.append(None if r % 17 == 9 else f"{w}{r // 3}" if r % 4 else w + "_" + str(r % 50))
        fx.append(bytes([(r * 3 + k) % 256 for k in range(4)]))
        ts.append((r * 86_400_000_000_007 + 123) if r % 9 else None)
    cols = {
        "i32": pa.array(i32, pa.int32()),
        "i64": pa.array(i64, pa.int64()),
        "u32": pa.array(u32, pa.uint32()),
        "f32": pa.array(f32, pa.float32()),
        "f64": pa.array(f64, pa.float64()),
        "b": pa.array(b, pa.bool_()),
        "s": pa.array(s, pa.string()),
        "fx": pa.array(fx, pa.binary(4)),
        "ts": pa.array(ts, pa.timestamp("ns")),
    }
    kinds = {"i32": "int", "i64": "int", "u32": "int", "f32": "float", "f64": "float", "b": "bool", "s": "str",
             "fx": "str", "ts": "ts"}
    # Lists of primitives (the 3-level LIST layout): null lists, empty lists, null elements, long
    # lists that span pages; one with required (non-nullable) elements.
    names = ["comedy", "drama", "horror", "héllo", "日本", ""]
    ls, li32, li64, lf32, lf64, lbo, lreq = ([] for _ in range(7))
    for r in range(N):
        k = 0 if r % 10 == 4 else 300 if r % 97 == 50 else rng.randint(0, 5)
        def el(gen, nulls=True):
            return None if r % 23 == 11 else [None if nulls and rng.random() < 0.1 else gen() for _ in range(k)]
        ls.append(el(lambda: rng.choice(names) + ("" if rng.random() < .7 else str(rng.randint(0, 99)))))
        li32.append(el(lambda: rng.choice([0, 1, 27, -1, 2**31 - 1, -(2**31), rng.randint(-9, 9)])))
        li64.append(el(lambda: rng.choice([2**63 - 1, -(2**63), rng.randint(0, 63)])))
        lf32.append(el(lambda: float(pa.scalar(rng.choice([0.0, 1.0, rng.uniform(-1, 1)]), pa.float32()).as_py())))
        lf64.append(el(lambda: rng.choice([0.0, 1.0, -0.0, rng.gauss(0, 1)])))
        lbo.append(el(lambda: rng.random() < .5))
        lreq.append(el(lambda: rng.randint(0, 63), nulls=False))
    cols.update({
        "ls": pa.array(ls, pa.list_(pa.string())),
        "li32": pa.array(li32, pa.list_(pa.int32())),
        "li64": pa.array(li64, pa.list_(pa.int64())),
        "lf32": pa.array(lf32, pa.list_(pa.float32())),
        "lf64": pa.array(lf64, pa.list_(pa.float64())),
        "lb": pa.array(lbo, pa.list_(pa.bool_())),
        "lreq": pa.array(lreq, pa.list_(pa.field("element", pa.int64(), nullable=False))),
    })
    kinds.update({"ls": "list:str", "li32": "list:int", "li64": "list:int", "lf32": "list:float",
                  "lf64": "list:float", "lb": "list:bool", "lreq": "list:int"})
    return pa.table(cols), kinds


def render(kind, v):
    if v is None:
        return None
    if kind in ("int", "ts"):
        return str(v)
    if kind == "float":
        return float(v).hex()
    if kind == "bool":
        return bool(v)
    if isinstance(v, str):
        v = v.encode("utf-8")
    return v.hex()


def table_data(table, kinds):
    data = {}
    for c in table.column_names:
        col = table.column(c).cast(pa.int64()) if kinds[c] == "ts" else table.column(c)
        if kinds[c].startswith("list:"):  # a list of primitives: its elements rendered as the kind says
            inner = kinds[c][5:]
            data[c] = [None if v is None else [render(inner, e) for e in v] for v in col.to_pylist()]
        else:
            data[c] = [render(kinds[c], v) for v in col.to_pylist()]
    return data


def random_fixtures(out, count, seed):
    """Random schemas, values and writer options (a differential test against pyarrow);
    each fixture carries its own kinds and data."""
    rng = random.Random(seed)
    encs = {"i32": ["PLAIN", "DELTA_BINARY_PACKED", "BYTE_STREAM_SPLIT"],
            "i64": ["PLAIN", "DELTA_BINARY_PACKED", "BYTE_STREAM_SPLIT"], "u8": ["PLAIN", "DELTA_BINARY_PACKED"],
            "u64": ["PLAIN", "DELTA_BINARY_PACKED"], "f32": ["PLAIN", "BYTE_STREAM_SPLIT"],
            "f64": ["PLAIN", "BYTE_STREAM_SPLIT"], "b": ["PLAIN", "RLE"],
            "s": ["PLAIN", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY"],
            "bin": ["PLAIN", "DELTA_LENGTH_BYTE_ARRAY", "DELTA_BYTE_ARRAY"],
            "fx": ["PLAIN", "DELTA_BYTE_ARRAY", "BYTE_STREAM_SPLIT"], "ts": ["PLAIN"]}
    gens = {
        "i32": (pa.int32(), lambda: rng.randint(-2**31, 2**31 - 1) if rng.random() < .3 else rng.randint(-5, 5)),
        "i64": (pa.int64(), lambda: rng.randint(-2**63, 2**63 - 1) if rng.random() < .3 else rng.randint(0, 999)),
        "u8": (pa.uint8(), lambda: rng.randint(0, 255)),
        "u64": (pa.uint64(), lambda: rng.randint(0, 2**63 - 1)),
        "f32": (pa.float32(), lambda: rng.uniform(-1e30, 1e30)),
        "f64": (pa.float64(), lambda: rng.gauss(0, 1e100)),
        "b": (pa.bool_(), lambda: rng.random() < .5),
        "s": (pa.string(), lambda: "".join(rng.choice("abcé日😀 ") for _ in range(rng.randint(0, 30)))),
        "bin": (pa.binary(), lambda: bytes(rng.randrange(256) for _ in range(rng.randint(0, 20)))),
        "fx": (pa.binary(3), lambda: bytes(rng.randrange(256) for _ in range(3))),
        "ts": (pa.timestamp("ns"), lambda: rng.randint(-10**18, 10**18)),
    }
    kind_of = {"i32": "int", "i64": "int", "u8": "int", "u64": "int", "f32": "float", "f64": "float", "b": "bool",
               "s": "str", "bin": "str", "fx": "str", "ts": "ts"}
    fixtures = []
    for k in range(count):
        n = rng.choice([0, 1, 7, 100, 500])
        nullp = rng.choice([0, 0.1, 0.5, 1.0])
        use_dict = rng.random() < 0.5
        fields, arrays, enc, kinds = [], [], {}, {}
        for j in range(rng.randint(1, 6)):
            t = rng.choice(sorted(gens))
            name = f"{t}_{j}"
            required = rng.random() < 0.3
            typ, gen = gens[t]
            if t != "ts" and rng.random() < 0.25:  # a list of them (null lists, empty ones, null elements)
                lgen = (lambda g: lambda: [g() if rng.random() >= nullp / 2 else None
                                           for _ in range(rng.choice([0, 1, 3, 40]))])(gen)
                arrays.append(pa.array([lgen() if required or rng.random() >= nullp else None for _ in range(n)],
                                       pa.list_(typ)))
                fields.append(pa.field(name, pa.list_(typ), nullable=not required))
                kinds[name] = "list:" + kind_of[t]
                continue
            arrays.append(pa.array([gen() if required or rng.random() >= nullp else None for _ in range(n)], typ))
            fields.append(pa.field(name, typ, nullable=not required))
            kinds[name] = kind_of[t]
            if not use_dict:
                enc[name] = rng.choice(encs[t])
        tbl = pa.Table.from_arrays(arrays, schema=pa.schema(fields))
        kw = dict(compression=rng.choice(["none", "snappy", "gzip", "zstd", "lz4"]),
                  data_page_version=rng.choice(["1.0", "2.0"]), row_group_size=rng.choice([1, 10, 333, 100000]),
                  data_page_size=rng.choice([64, 1024, 1 << 20]), write_page_checksum=rng.random() < .5,
                  use_deprecated_int96_timestamps=True, write_statistics=rng.random() < .5, use_dictionary=use_dict)
        if enc:
            kw["column_encoding"] = enc
        name = f"random_{k:03d}.parquet"
        pq.write_table(tbl, os.path.join(out, name), **kw)
        fixtures.append({"file": name, "order": tbl.column_names, "num_rows": n, "unsupported": {},
                         "kinds": kinds, "data": table_data(tbl, kinds)})
    return fixtures


def main():
    out = sys.argv[1]
    nrows = int(sys.argv[2]) if len(sys.argv) > 2 else 2500
    os.makedirs(out, exist_ok=True)
    table, kinds = make_table(nrows)
    common = dict(row_group_size=max(1, nrows * 2 // 5), data_page_size=2048, write_page_checksum=True,
                  use_deprecated_int96_timestamps=True, write_statistics=False)
    plain = [c for c in table.column_names]
    variants = []
    for codec in ["none", "snappy", "gzip", "zstd", "lz4"]:
        variants.append((f"dict_v1_{codec}", table, dict(compression=codec), {}))
    variants.append(("dict_v2_snappy", table, dict(compression="snappy", data_page_version="2.0"), {}))
    # A small dictionary limit makes the writer fall back to PLAIN pages after the dictionary ones.
    variants.append(("dict_fallback_v1_snappy", table, dict(compression="snappy", dictionary_pagesize_limit=1024), {}))
    variants.append(("dict_v2_none", table, dict(compression="none", data_page_version="2.0"), {}))
    variants.append(("plain_v1_zstd", table, dict(compression="zstd", use_dictionary=False,
                                                   column_encoding={c: "PLAIN" for c in plain}), {}))
    variants.append(("plain_v2_gzip", table, dict(compression="gzip", use_dictionary=False, data_page_version="2.0",
                                                   column_encoding={c: "PLAIN" for c in plain}), {}))
    delta = {"i32": "DELTA_BINARY_PACKED", "i64": "DELTA_BINARY_PACKED", "u32": "DELTA_BINARY_PACKED",
             "s": "DELTA_BYTE_ARRAY", "fx": "DELTA_BYTE_ARRAY", "b": "RLE"}
    for v in ("1.0", "2.0"):
        tag = v[0]
        variants.append((f"delta_v{tag}_snappy", table, dict(compression="snappy", use_dictionary=False,
                                                             data_page_version=v, column_encoding=delta), {}))
        variants.append((f"delta_length_v{tag}_lz4", table, dict(compression="lz4", use_dictionary=False, data_page_version=v,
                                                                 column_encoding={"s": "DELTA_LENGTH_BYTE_ARRAY"}), {}))
        bss = {"f32": "BYTE_STREAM_SPLIT", "f64": "BYTE_STREAM_SPLIT", "i32": "BYTE_STREAM_SPLIT",
               "i64": "BYTE_STREAM_SPLIT", "fx": "BYTE_STREAM_SPLIT"}
        variants.append((f"bss_v{tag}_zstd", table, dict(compression="zstd", use_dictionary=False, data_page_version=v,
                                                         column_encoding=bss), {}))
    # No rows at all (pyarrow leaves the empty chunks' page offsets at 0).
    variants.append(("empty", table.slice(0, 0), dict(compression="snappy"), {}))
    # An unsupported codec on one column only: the other columns must still read.
    variants.append(("brotli_one_column", table.select(["i64", "s"]),
                     dict(compression={"i64": "snappy", "s": "brotli"}), {"s": "BROTLI"}))
    fixtures = []
    seen_enc, seen_codec = set(), set()
    for name, tbl, opts, unsupported in variants:
        kw = dict(common)
        kw.update(opts)
        path = os.path.join(out, name + ".parquet")
        pq.write_table(tbl, path, **kw)
        md = pq.ParquetFile(path).metadata
        for rg in range(md.num_row_groups):
            for c in range(md.num_columns):
                cc = md.row_group(rg).column(c)
                seen_enc.update(cc.encodings)
                seen_codec.add(cc.compression)
        fixtures.append({"file": name + ".parquet", "order": tbl.column_names, "num_rows": tbl.num_rows,
                         "row_groups": md.num_row_groups, "unsupported": unsupported})
    # The fixtures must really cover what the reader claims to support.
    want_enc = {"PLAIN", "RLE", "RLE_DICTIONARY", "DELTA_BINARY_PACKED", "DELTA_LENGTH_BYTE_ARRAY",
                "DELTA_BYTE_ARRAY", "BYTE_STREAM_SPLIT"}
    want_codec = {"UNCOMPRESSED", "SNAPPY", "GZIP", "ZSTD", "LZ4", "BROTLI"}  # pyarrow calls LZ4_RAW "LZ4"
    missing = (want_enc - seen_enc) | (want_codec - seen_codec)
    if missing:
        sys.exit(f"fixtures do not cover {sorted(missing)} (seen {sorted(seen_enc | seen_codec)})")
    data = table_data(table, kinds)
    fixtures += random_fixtures(out, count=40, seed=7)
    with open(os.path.join(out, "manifest.json"), "w") as f:
        json.dump({"pyarrow": pa.__version__, "num_rows": table.num_rows, "kinds": kinds, "data": data,
                   "fixtures": fixtures}, f)
    print(f"wrote {len(fixtures)} fixtures to {out}")


if __name__ == "__main__":
    main()
