/* lorabert-mpi.so: the CLI's lb_collective over Open MPI (see src/cli/dist.h). Built only where
 * Open MPI is installed; uses lorabert.h and mpi.h alone. MPI's allgather moves bytes in rank
 * order; the library sums them itself in a fixed order, so no MPI reduction is used. */
#include <limits.h>
#include <mpi.h>
#include <stdio.h>
#include <string.h>
#include "cli/dist.h"

static lb_status gather(void *user, const void *send, size_t bytes, void *recv, lb_error *err) {
    (void)user;
    int size = 1;
    MPI_Comm_size(MPI_COMM_WORLD, &size);
    /* counts are ints: large parts travel as MPI_Allgatherv-free chunks of one derived type */
    MPI_Datatype t = MPI_BYTE;
    size_t unit = 1;
    if (bytes > (size_t)INT_MAX) {
        unit = 1u << 20;
        while (bytes % unit) unit >>= 1;
        MPI_Type_contiguous((int)unit, MPI_BYTE, &t);
        MPI_Type_commit(&t);
    }
    if (bytes / unit > (size_t)INT_MAX) {
        if (t != MPI_BYTE) MPI_Type_free(&t);
        if (err) {
            err->code = LB_ERR_UNSUPPORTED;
            snprintf(err->msg, sizeof err->msg, "MPI_Allgather of %zu bytes per rank: too large to send", bytes);
        }
        return LB_ERR_UNSUPPORTED;
    }
    /* MPI_IN_PLACE is not used: send and recv are separate buffers */
    int rc =
        MPI_Allgather((void *)(uintptr_t)send, (int)(bytes / unit), t, recv, (int)(bytes / unit), t, MPI_COMM_WORLD);
    if (t != MPI_BYTE) MPI_Type_free(&t);
    if (rc != MPI_SUCCESS) {
        char s[MPI_MAX_ERROR_STRING];
        int n = 0;
        MPI_Error_string(rc, s, &n);
        if (err) {
            err->code = LB_ERR_IO;
            snprintf(err->msg, sizeof err->msg, "MPI_Allgather of %zu bytes x %d ranks failed: %s", bytes, size, s);
        }
        return LB_ERR_IO;
    }
    return LB_OK;
}

static int start(int *argc, char ***argv, lb_collective *coll, char *msg, size_t msg_len) {
    int rc = MPI_Init(argc, argv);
    if (rc != MPI_SUCCESS) {
        snprintf(msg, msg_len, "MPI_Init failed (error %d)", rc);
        return 1;
    }
    /* a failed call returns (and is reported by the caller, which then ends the job) */
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    memset(coll, 0, sizeof *coll);
    MPI_Comm_rank(MPI_COMM_WORLD, &coll->rank);
    MPI_Comm_size(MPI_COMM_WORLD, &coll->size);
    coll->allgather = gather;
    return 0;
}

static void finish(void) { MPI_Finalize(); }
static void abort_job(int code) { MPI_Abort(MPI_COMM_WORLD, code); }

const cli_mpi_plugin *lorabert_mpi_plugin(void);
const cli_mpi_plugin *lorabert_mpi_plugin(void) {
    static const cli_mpi_plugin p = {
        .abi = CLI_MPI_PLUGIN_ABI, .start = start, .finish = finish, .abort_job = abort_job};
    return &p;
}
