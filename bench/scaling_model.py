#!/usr/bin/env python3
"""docs/distributed.md's scaling model: projected data-parallel efficiency of lorabert train at
2..64 nodes on 10 and 100 Gb/s links, from measured inputs (bench/mpi_scaling.sh's JSON lines).

Per optimizer step, with P nodes each computing K micro-batches (weak scaling: the effective batch
grows with P) and n trainable floats:
  compute   K * t_mb                  (t_mb: seconds per micro-batch on one node, measured)
  transfer  (P - 1) * S / BW + (P - 1) * alpha
            an allgather of S = 4 n K + 8 (1 + 3K) bytes per node: every node receives the others'
            gradients (ring allgather), alpha = per-hop latency
  reduce    P * K * n / add_rate      (summing every micro-batch's gradient in global order)
  update    clip + AdamW on n floats, included in t_mb (it is per step, one node's cost)
  efficiency = compute / (compute + transfer + reduce)   (no overlap of transfer and compute)

usage: bench/scaling_model.py DISTRIBUTED_JSONL [--t-mb-bert SECONDS]"""
import json
import sys

ADD_RATE = 1.0e9  # floats summed per second by one core (a streaming add: ~4-8 GB/s); stated, not measured
ALPHA = 50e-6     # per-hop latency of TCP on a 10/100 Gb/s LAN (s); stated, not measured


def main():
    if len(sys.argv) < 2:
        print(__doc__)
        return 2
    rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
    t_bert = None
    if "--t-mb-bert" in sys.argv:
        t_bert = float(sys.argv[sys.argv.index("--t-mb-bert") + 1])
    for r in rows:  # measured by bench/mpi_scaling.sh when LORABERT_BENCH_BERT_BASE was given
        if r.get("workload") == "train_bert_base_r16_all_linear" and r.get("s_per_step"):
            t_bert = r["s_per_step"]
    train = {r["layout"]: r for r in rows if r.get("workload") == "train_seed_dataparallel"}
    gt = [r for r in rows if r.get("workload") == "gradient_transfer" and "bytes" in r]
    # one node = this machine's 2 cores: the 1 process x 2 threads run, K = 2 micro-batches a step
    t_mb = train["1x2"]["s_per_step"] / 2
    configs = [("seed config (DistilBERT, r=4 on q_lin)", 628994, t_mb)]
    if t_bert:
        configs.append(("bert-base, r=16 on all linears", 2655746, t_bert))
    print("measured: %.2f s per micro-batch (seed config, 4 rows, 1 process x 2 threads, load %s)"
          % (t_mb, train["1x2"].get("loadavg")))
    for r in gt:
        bw = 2 * r["bytes"] / (r["allgather_ms_median"] / 1e3)  # 3 ranks: each receives 2 parts
        print("measured: allgather of %d bytes x %d ranks over veth: %.1f ms median (%.0f MB/s received per rank); "
              "allreduce of the same: %.1f ms" % (r["bytes"], r["ranks"], r["allgather_ms_median"], bw / 1e6,
                                                  r["allreduce_ms_median"]))
    print()
    print("| model | t per micro-batch | bytes/node/step | link | " + " | ".join("%d nodes" % p for p in (2, 4, 8, 16, 32, 64)) + " |")
    print("|---|---|---|---|" + "---|" * 6)
    # the same on a node 16x faster than these 2 shared cores (a 32-core server: assumed, not measured)
    configs += [(name + ", node 16x faster (assumed)", n, t / 16) for name, n, t in list(configs)]
    for name, n, t in configs:
        K = 1
        S = 4 * n * K + 8 * (1 + 3 * K)
        for gbps in (10, 100):
            bw = gbps * 1e9 / 8
            cells = []
            for P in (2, 4, 8, 16, 32, 64):
                comm = (P - 1) * S / bw + (P - 1) * ALPHA
                red = P * K * n / ADD_RATE
                eff = K * t / (K * t + comm + red)
                cells.append("%.1f%%" % (100 * eff))
            print("| %s | %.2f s | %.1f MB | %d Gb/s | %s |" % (name, t, S / 1e6, gbps, " | ".join(cells)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
