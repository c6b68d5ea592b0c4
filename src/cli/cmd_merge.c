/* `lorabert merge`: folds a PEFT adapter into its base model (PEFT merge_and_unload) and saves a
 * plain HF model folder (config.json + model.safetensors + tokenizer files) that
 * AutoModelForSequenceClassification loads directly. The folder is written whole in a staging
 * folder beside --output and published in one rename (base/outdir.h), under --output's lock;
 * an --output that is, holds or lies inside --model or --adapter is refused, as is an existing
 * folder holding anything merge does not write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/options.h"

static const char usage[] =
    "usage: lorabert merge --model ID|DIR [--adapter DIR|ID] --output DIR\n\n"
    "Merges the adapter into the base weights (W += scaling * B A; the trained head replaces the\n"
    "original) and writes a plain Hugging Face model folder. An existing --output that holds only\n"
    "what merge writes is replaced as a whole; --output may not be, hold or lie in --model or --adapter.\n"
    "--model may name an adapter folder (adapter_config.json): its base_model_name_or_path is the base.\n";

int cmd_merge(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *output = NULL;
    long threads = 0;
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model, "ID|DIR", "base model (hub repo id or local folder)", 0, 0},
        {"--adapter", OPT_STR, &adapter, "DIR|ID", "PEFT adapter folder (or give it as --model)", 0, 0},
        {"--output", OPT_STR, &output, "DIR", "folder for the merged model", 0, 0},
        {"--threads", OPT_INT, &threads, "N", "CPU threads (0: all)", 0, 4096},
    };
    bool help;
    int rc = cli_parse("merge", usage, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &help);
    if (rc || help) return rc;
    if (!model || !output) return cli_usage_error("merge", "--model and --output are required");
    if (!*output) return cli_usage_error("merge", "--output is empty: name a folder");
    cli_set_threads(threads);
    lb_error err = {0};
    lb_model *m = NULL;
    lb_model_options mo = {.adapter = adapter};
    lb_status st = lb_model_open(model, &mo, &m, &err);
    if (!st) st = lb_model_save_merged(m, output, &err);
    if (!st) printf("merged model written to %s\n", output);
    lb_model_close(m);
    rc = st ? cli_fail(&err) : 0;
    return rc;
}
