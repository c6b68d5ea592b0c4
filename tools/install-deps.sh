#!/usr/bin/env bash
# Installs everything lorabert needs to build and test on Debian 12 (run as root).
# Idempotent: packages already present are skipped by apt.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
pkgs=(build-essential pkg-config clang llvm libclang-rt-14-dev valgrind
      libopenblas-openmp-dev libutf8proc-dev libcjson-dev libcriterion-dev
      libcurl4-openssl-dev libssl-dev zlib1g-dev libzstd-dev libsnappy-dev liblz4-dev libmicrohttpd-dev
      libopenmpi-dev openmpi-bin iproute2
      libdnnl-dev
      python3 python3-venv python3-pip python3-numpy)
missing=()
for p in "${pkgs[@]}"; do dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi
