/* Data-parallel runs of the CLI under mpirun.
 *
 * Owns: detecting a launch by Open MPI's mpirun (OMPI_COMM_WORLD_SIZE / PMIX_RANK in the
 * environment), loading the MPI plugin (lorabert-mpi.so, built only where Open MPI is installed;
 * src/cli/mpi/) and handing its lb_collective to the commands; the checksum exchange that refuses
 * ranks with different inputs; ending the whole job when one rank fails.
 * Why: the library links no transport (lorabert.h's lb_collective); the CLI links no MPI either,
 * so a plain run pays nothing (no libmpi loaded) and a build without Open MPI is the same binary,
 * which says under mpirun that distributed runs need the plugin.
 * Guarantees: outside mpirun (or with one process) cli_dist_start does nothing and
 * cli_dist_collective() is NULL; under mpirun every rank has the same collective size, and a
 * failing rank ends every rank (MPI_Abort) after its one error line, which names the rank. */
#ifndef LB_CLI_DIST_H
#define LB_CLI_DIST_H
#include <stdint.h>
#include "lorabert.h"

/* What the plugin exports (its one symbol, lorabert_mpi_plugin, returns it). */
typedef struct cli_mpi_plugin {
    int abi; /* CLI_MPI_PLUGIN_ABI */
    /* MPI_Init + rank/size; fills coll (allgather over MPI_COMM_WORLD, in rank order). 0 on
     * success, else msg says why. */
    int (*start)(int *argc, char ***argv, lb_collective *coll, char *msg, size_t msg_len);
    void (*finish)(void);        /* MPI_Finalize */
    void (*abort_job)(int code); /* MPI_Abort(MPI_COMM_WORLD, code): ends every rank */
} cli_mpi_plugin;
#define CLI_MPI_PLUGIN_ABI 1

/* Under mpirun with more than one process: loads the plugin and starts MPI. Returns 0, or the
 * exit status after printing one line (LB_ERR_UNSUPPORTED when the plugin is missing). */
int cli_dist_start(int *argc, char ***argv);
/* NULL: a one-process run. */
const lb_collective *cli_dist_collective(void);
/* 0 outside a distributed run. */
int cli_dist_rank(void);
/* The end of a command: rc 0 finalizes MPI; a failure on one rank ends the job (every rank). */
int cli_dist_end(int rc);

/* Inputs every rank must agree on, by name ("model files", "training data", ...), each a 64-bit
 * digest. cli_dist_check gathers them: a rank whose digest differs from rank 0's is refused,
 * naming the input and the rank (LB_ERR_USAGE in err, on every rank). */
typedef struct cli_dist_item {
    const char *what;
    uint64_t digest;
} cli_dist_item;
lb_status cli_dist_check(const cli_dist_item *items, int n, lb_error *err);
/* FNV-1a over bytes, and over a file's contents (not its path: hosts may keep files elsewhere; an
 * absent file digests as "(absent)"). */
uint64_t cli_digest_bytes(uint64_t h, const void *p, size_t n);
uint64_t cli_digest_file(uint64_t h, const char *path);
#define CLI_DIGEST_INIT UINT64_C(0xcbf29ce484222325)
/* The files that make a model (config, weights, tokenizer) and, when adapter_dir is given, an
 * adapter (config, weights, labels). */
uint64_t cli_digest_model(const char *model_dir, const char *adapter_dir);
/* The files a dataset was read from (every row's, whatever the shard). */
uint64_t cli_digest_dataset(const lb_dataset *d);

#endif
