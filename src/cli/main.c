/* lorabert: entry point and subcommand dispatch. */
#include <omp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/dist.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "fine-tune a classifier with LoRA (defaults: the classic IMDb recipe)"},
    {"eval", cmd_eval, "evaluate a model (+ adapter) on a labelled dataset"},
    {"predict", cmd_predict, "label texts with a model (+ adapter)"},
    {"serve", cmd_serve, "serve a model and its adapters over HTTP (TEI's API, batched)"},
    {"merge", cmd_merge, "fold an adapter into its base model and save a plain HF model folder"},
    {"tokenize", cmd_tokenize, "print token ids exactly as the Hugging Face fast tokenizer"},
    {"info", cmd_info, "describe a model folder: architecture, parameters, labels, tokenizer"},
    {"download", cmd_download, "download a model or dataset from the Hugging Face Hub into its cache"},
};

static void usage(FILE *out) {
    fprintf(out,
            "lorabert %s: LoRA fine-tuning and inference for BERT-family text classifiers\n\n"
            "usage: lorabert <command> [options]\n\ncommands:\n",
            LORABERT_VERSION);
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-9s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'lorabert <command> --help' describes each command.\n"
                 "Exit status: 0 ok, 1 internal, 2 usage, 3 I/O, 4 bad file format, 5 unsupported,\n"
                 "6 out of memory, 7 network, 8 non-finite numbers, 9 interrupted (checkpoint saved).\n");
}

void cli_set_threads(long n) {
    if (n > 0) omp_set_num_threads((int)n);
}

int cli_fail(const lb_error *err) {
    if (cli_dist_collective())
        fprintf(stderr, "lorabert: rank %d: %s\n", cli_dist_rank(), err->msg[0] ? err->msg : lb_status_name(err->code));
    else fprintf(stderr, "lorabert: %s\n", err->msg[0] ? err->msg : lb_status_name(err->code));
    return err->code ? (int)err->code : 1;
}

lb_status cli_err(lb_error *err, lb_status code, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    if (err) {
        err->code = code;
        vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    }
    va_end(ap);
    return code;
}

int cli_usage_error(const char *cmd, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "lorabert %s: ", cmd);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, " (see 'lorabert %s --help')\n", cmd);
    va_end(ap);
    return LB_ERR_USAGE;
}

void cli_put_json_string(FILE *out, const char *s) {
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') {
            putc('\\', out);
            putc(*p, out);
        } else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
        else putc(*p, out);
    }
    putc('"', out);
}

static void human_bytes(double b, char *out, size_t n) {
    const char *u[] = {"B", "kB", "MB", "GB", "TB"};
    int i = 0;
    while (b >= 1000 && i < 4) {
        b /= 1000;
        i++;
    }
    snprintf(out, n, i ? "%.1f%s" : "%.0f%s", b, u[i]);
}

/* huggingface_hub's progress line, one per file, on a terminal's stderr. */
static void download_progress(void *user, const char *file, long long done, long long total, double rate, bool final) {
    (void)user;
    char d[32], tot[32], r[32];
    human_bytes((double)done, d, sizeof d);
    human_bytes((double)(total > 0 ? total : done), tot, sizeof tot);
    human_bytes(rate, r, sizeof r);
    int pct = total > 0 ? (int)(100.0 * (double)done / (double)total) : 100;
    size_t nl = strlen(file);
    fprintf(stderr, "\r%-32.32s %3d%% %9s/%-9s %9s/s%s", nl > 32 ? file + nl - 32 : file, pct, d, tot, r,
            final ? "\n" : "");
    fflush(stderr);
}

static bool env_true(const char *name) {
    const char *v = getenv(name);
    return v && (!strcmp(v, "1") || !strcasecmp(v, "true") || !strcasecmp(v, "yes") || !strcasecmp(v, "on"));
}

int main(int argc, char **argv) {
    /* OpenBLAS would run its SSE3 kernels on CPUs it does not know, and libgomp would spin ~3 ms
     * at every barrier (collapsing under load): both are read when they load (lorabert.h) */
    lb_runtime_reexec(argv);
    if (isatty(STDERR_FILENO) && !env_true("HF_HUB_DISABLE_PROGRESS_BARS"))
        lb_set_download_progress(download_progress, NULL);
    if (argc < 2) {
        usage(stderr);
        return LB_ERR_USAGE;
    }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) {
        /* the library actually linked, which may differ from the header this was built with */
        printf("lorabert %s\n", lb_version());
        return 0;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) {
            /* under mpirun: train, eval and predict run data-parallel; the others are refused
             * there (they would write the same files from every rank) */
            bool dist = commands[i].run == cmd_train || commands[i].run == cmd_eval || commands[i].run == cmd_predict;
            int rc = 0;
            if (dist && (rc = cli_dist_start(&argc, &argv))) return rc;
            return cli_dist_end(commands[i].run(argc - 1, argv + 1));
        }
    fprintf(stderr, "lorabert: unknown command '%s' (see 'lorabert --help')\n", argv[1]);
    return LB_ERR_USAGE;
}
