/* The transfer of a data-parallel lorabert step, timed on its own: MPI_Allgather of B bytes per
 * rank (what the CLI's plugin does for the trainer's gradient gather), and, for comparison,
 * MPI_Allreduce of the same bytes as floats (what a sum in MPI's own order would cost). Uses MPI
 * only. Prints one JSON object from rank 0: ranks, bytes, median and min milliseconds of each.
 * Build: mpicc -O2 bench/mpi_allgather.c -o build/bench/mpi_allgather
 * Run:   mpirun -np N build/bench/mpi_allgather BYTES [REPS] */
#include <mpi.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv) {
    MPI_Init(&argc, &argv);
    int rank, size;
    MPI_Comm_rank(MPI_COMM_WORLD, &rank);
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    long bytes = argc > 1 ? atol(argv[1]) : 2516000;
    int reps = argc > 2 ? atoi(argv[2]) : 20;
    if (bytes < 4 || reps < 1) {
        if (!rank) fprintf(stderr, "usage: mpi_allgather BYTES [REPS]\n");
        MPI_Finalize();
        return 2;
    }
    bytes -= bytes % 4;
    float *send = malloc((size_t)bytes), *recv = malloc((size_t)bytes * (size_t)size), *sum = malloc((size_t)bytes);
    double *tg = malloc(sizeof(double) * (size_t)reps), *tr = malloc(sizeof(double) * (size_t)reps);
    if (!send || !recv || !sum || !tg || !tr) MPI_Abort(MPI_COMM_WORLD, 6);
    for (long i = 0; i < bytes / 4; i++) send[i] = (float)(rank + i % 7);
    for (int w = 0; w < 2; w++) MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
    for (int r = 0; r < reps; r++) {
        MPI_Barrier(MPI_COMM_WORLD);
        double t0 = MPI_Wtime();
        MPI_Allgather(send, (int)bytes, MPI_BYTE, recv, (int)bytes, MPI_BYTE, MPI_COMM_WORLD);
        double t1 = MPI_Wtime();
        double mx, d = t1 - t0;
        MPI_Allreduce(&d, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        tg[r] = mx * 1e3;
        MPI_Barrier(MPI_COMM_WORLD);
        t0 = MPI_Wtime();
        MPI_Allreduce(send, sum, (int)(bytes / 4), MPI_FLOAT, MPI_SUM, MPI_COMM_WORLD);
        t1 = MPI_Wtime();
        d = t1 - t0;
        MPI_Allreduce(&d, &mx, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
        tr[r] = mx * 1e3;
    }
    qsort(tg, (size_t)reps, sizeof *tg, cmp);
    qsort(tr, (size_t)reps, sizeof *tr, cmp);
    if (!rank)
        printf(
            "{\"ranks\": %d, \"bytes\": %ld, \"reps\": %d, \"allgather_ms_median\": %.3f, \"allgather_ms_min\": %.3f, "
            "\"allreduce_ms_median\": %.3f, \"allreduce_ms_min\": %.3f}\n",
            size, bytes, reps, tg[reps / 2], tg[0], tr[reps / 2], tr[0]);
    free(send);
    free(recv);
    free(sum);
    free(tg);
    free(tr);
    MPI_Finalize();
    return 0;
}
