#!/usr/bin/env bash
# Builds (release) and runs the model benchmark: tools/bench/model_bench.sh [B] [T] [iters]
set -euo pipefail
cd "$(dirname "$0")/../.."
make -s -j2 MODE=release lib
B=/usr/lib/x86_64-linux-gnu/openblas-openmp
cc -std=c11 -O3 -march=native -fopenmp -Iinclude -Isrc -I/usr/include/x86_64-linux-gnu/openblas-openmp \
   tools/bench/model_bench.c build/release/liblorabert.a -L$B -Wl,-rpath,$B -lopenblas -lcjson -lm \
   -o build/release/model_bench
exec build/release/model_bench "$@"
