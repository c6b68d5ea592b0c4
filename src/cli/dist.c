/* Data-parallel runs of the CLI under mpirun; see dist.h. */
#include "cli/dist.h"
#include <dlfcn.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const cli_mpi_plugin *plugin;
static lb_collective coll;
static bool active;

/* The process count mpirun gave this process; 0 when not launched by it. */
static int launched_size(void) {
    const char *s = getenv("OMPI_COMM_WORLD_SIZE");
    if (!s) s = getenv("PMIX_SIZE");         /* not set by every launcher; OMPI_COMM_WORLD_SIZE is */
    if (!s && getenv("PMIX_RANK")) return 2; /* launched by a PMIx launcher: at least check */
    return s ? atoi(s) : 0;
}

/* lorabert-mpi.so: $LORABERT_MPI_PLUGIN, else beside the executable, else ../lib/lorabert/. */
static void *open_plugin(char *tried, size_t n) {
    const char *env = getenv("LORABERT_MPI_PLUGIN");
    if (env && *env) {
        snprintf(tried, n, "%s", env);
        return dlopen(env, RTLD_NOW | RTLD_GLOBAL);
    }
    char exe[PATH_MAX];
    ssize_t len = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (len <= 0) {
        snprintf(tried, n, "(the executable's folder is unknown)");
        return NULL;
    }
    exe[len] = 0;
    char *slash = strrchr(exe, '/');
    if (slash) *slash = 0;
    static const char *const rel[] = {"/lorabert-mpi.so", "/../lib/lorabert/lorabert-mpi.so"};
    size_t used = 0;
    tried[0] = 0;
    for (size_t i = 0; i < sizeof rel / sizeof rel[0]; i++) {
        char path[PATH_MAX + 64];
        snprintf(path, sizeof path, "%s%s", exe, rel[i]);
        if (access(path, R_OK) == 0) {
            /* RTLD_GLOBAL: Open MPI's own components resolve libmpi's symbols through it */
            void *h = dlopen(path, RTLD_NOW | RTLD_GLOBAL);
            if (h) return h;
            used +=
                (size_t)snprintf(tried + used, used < n ? n - used : 0, "%s%s (%s)", used ? ", " : "", path, dlerror());
        } else {
            used += (size_t)snprintf(tried + used, used < n ? n - used : 0, "%s%s", used ? ", " : "", path);
        }
    }
    return NULL;
}

int cli_dist_start(int *argc, char ***argv) {
    int size = launched_size();
    if (size <= 1) return 0;
    char tried[2 * PATH_MAX + 256];
    void *h = open_plugin(tried, sizeof tried);
    if (!h) {
        fprintf(stderr,
                "lorabert: launched by mpirun with %d processes, but distributed runs need a build with Open MPI "
                "(libopenmpi-dev): its plugin lorabert-mpi.so was not found (%s)\n",
                size, tried);
        return LB_ERR_UNSUPPORTED;
    }
    const cli_mpi_plugin *(*get)(void) = NULL;
    *(void **)(&get) = dlsym(h, "lorabert_mpi_plugin");
    const cli_mpi_plugin *p = get ? get() : NULL;
    if (!p || p->abi != CLI_MPI_PLUGIN_ABI) {
        fprintf(stderr, "lorabert: %s is not this version's MPI plugin (rebuild lorabert)\n", tried);
        return LB_ERR_UNSUPPORTED;
    }
    char msg[256];
    if (p->start(argc, argv, &coll, msg, sizeof msg)) {
        fprintf(stderr, "lorabert: %s\n", msg);
        return LB_ERR_IO;
    }
    plugin = p;
    active = coll.size > 1;
    return 0;
}

const lb_collective *cli_dist_collective(void) { return active ? &coll : NULL; }
int cli_dist_rank(void) { return active ? coll.rank : 0; }

int cli_dist_end(int rc) {
    if (!plugin) return rc;
    fflush(stdout);
    fflush(stderr);
    /* the others may wait in a collective: end them all; except an interruption, which every
     * process decides at the same step (rank 0 may still be writing the checkpoint) */
    if (rc && rc != LB_ERR_INTERRUPTED && active) plugin->abort_job(rc);
    plugin->finish();
    return rc;
}

uint64_t cli_digest_bytes(uint64_t h, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) {
        h ^= b[i];
        h *= UINT64_C(0x100000001b3);
    }
    return h;
}

uint64_t cli_digest_file(uint64_t h, const char *path) {
    int fd = open(path, O_RDONLY);
    if (fd < 0) return cli_digest_bytes(h, "(absent)", 9); /* a file on one host only differs */
    unsigned char buf[1 << 16];
    ssize_t n;
    while ((n = read(fd, buf, sizeof buf)) > 0) h = cli_digest_bytes(h, buf, (size_t)n);
    close(fd);
    return h;
}

lb_status cli_dist_check(const cli_dist_item *items, int n, lb_error *err) {
    const lb_collective *c = cli_dist_collective();
    if (!c) return LB_OK;
    uint64_t *mine = calloc((size_t)n + 1, sizeof *mine), *all = calloc(((size_t)n + 1) * (size_t)c->size, sizeof *all);
    lb_status st = LB_OK;
    if (!mine || !all) {
        st = LB_ERR_NOMEM;
        if (err) snprintf(err->msg, sizeof err->msg, "out of memory"), err->code = st;
        goto out;
    }
    mine[0] = (uint64_t)n;
    for (int i = 0; i < n; i++) mine[i + 1] = items[i].digest;
    if ((st = c->allgather(c->user, mine, sizeof *mine * ((size_t)n + 1), all, err))) goto out;
    for (int r = 1; r < c->size && !st; r++) {
        const uint64_t *theirs = all + (size_t)r * ((size_t)n + 1);
        if (theirs[0] != (uint64_t)n) {
            st = LB_ERR_USAGE;
            if (err)
                snprintf(err->msg, sizeof err->msg, "rank %d runs another command or version than rank 0 (refused)", r),
                    err->code = st;
            break;
        }
        for (int i = 0; i < n; i++)
            if (theirs[i + 1] != all[i + 1]) {
                st = LB_ERR_USAGE;
                if (err)
                    snprintf(err->msg, sizeof err->msg,
                             "rank %d's %s differ from rank 0's (digest %016" PRIx64 " vs %016" PRIx64
                             "): every rank needs the same files and options (refused)",
                             r, items[i].what, theirs[i + 1], all[i + 1]),
                        err->code = st;
                break;
            }
    }
out:
    free(mine);
    free(all);
    return st;
}

uint64_t cli_digest_model(const char *model_dir, const char *adapter_dir) {
    static const char *const model_files[] = {"config.json",    "model.safetensors",     "vocab.txt",
                                              "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
    static const char *const adapter_files[] = {"adapter_config.json", "adapter_model.safetensors", "labels.json"};
    uint64_t h = CLI_DIGEST_INIT;
    char path[8192];
    for (size_t i = 0; model_dir && i < sizeof model_files / sizeof model_files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", model_dir, model_files[i]);
        h = cli_digest_file(h, path);
    }
    for (size_t i = 0; adapter_dir && i < sizeof adapter_files / sizeof adapter_files[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", adapter_dir, adapter_files[i]);
        h = cli_digest_file(h, path);
    }
    return h;
}

uint64_t cli_digest_dataset(const lb_dataset *d) {
    uint64_t h = CLI_DIGEST_INIT;
    for (int i = 0; d && lb_dataset_file(d, i); i++) h = cli_digest_file(h, lb_dataset_file(d, i));
    return h;
}
