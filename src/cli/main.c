/* lorabert: entry point and subcommand dispatch. */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"

typedef struct command {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} command;

static const command commands[] = {
    {"train", cmd_train, "fine-tune a classifier with LoRA (defaults: the classic IMDb recipe)"},
    {"eval", cmd_eval, "evaluate a model (+ adapter) on a labelled dataset"},
    {"predict", cmd_predict, "label texts with a model (+ adapter)"},
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

int cli_fail(const lb_error *err) {
    fprintf(stderr, "lorabert: %s\n", err->msg[0] ? err->msg : lb_status_name(err->code));
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

int main(int argc, char **argv) {
    /* OpenBLAS would run its SSE3 kernels on CPUs it does not know (kernels.h) */
    lb_blas_reexec_if_slow(argv);
    if (argc < 2) { usage(stderr); return LB_ERR_USAGE; }
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h") || !strcmp(argv[1], "help")) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[1], "--version")) { printf("lorabert %s\n", LORABERT_VERSION); return 0; }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (!strcmp(argv[1], commands[i].name)) return commands[i].run(argc - 1, argv + 1);
    fprintf(stderr, "lorabert: unknown command '%s' (see 'lorabert --help')\n", argv[1]);
    return LB_ERR_USAGE;
}
