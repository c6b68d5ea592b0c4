/* `lorabert merge`: folds a PEFT adapter into its base model (PEFT merge_and_unload) and saves a
 * plain HF model folder (config.json + model.safetensors + tokenizer files) that
 * AutoModelForSequenceClassification loads directly. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "cli/cli.h"
#include "cli/train_common.h"
#include "formats/peft_adapter.h"

static const char usage[] =
    "usage: lorabert merge --model ID|DIR --adapter DIR --output DIR\n\n"
    "Merges the adapter into the base weights (W += scaling * B A; the trained head replaces the\n"
    "original) and writes a plain Hugging Face model folder.\n";

int cmd_merge(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *output = NULL;
    long threads = 0;
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model, "ID|DIR", "base model (hub repo id or local folder)", 0, 0},
        {"--adapter", OPT_STR, &adapter, "DIR", "PEFT adapter folder", 0, 0},
        {"--output", OPT_STR, &output, "DIR", "folder for the merged model", 0, 0},
        {"--threads", OPT_INT, &threads, "N", "CPU threads (0: all)", 0, 4096},
    };
    bool help;
    int rc = cli_parse("merge", usage, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &help);
    if (rc || help) return rc;
    if (!model || !adapter || !output) return cli_usage_error("merge", "--model, --adapter and --output are required");
    cli_set_threads(threads);
    lb_error err = {0};
    char *model_dir = NULL;
    char **names = NULL;
    int nlabels = 0;
    lb_model *m = NULL;
    lb_status st;
    if ((st = cli_resolve_model(model, &model_dir, &err))) goto out;
    if ((st = cli_adapter_labels(adapter, &nlabels, &names, &err))) goto out;
    lb_load_opts lo = {.num_labels = nlabels, .labels = names, .seed = 0, .quiet = true};
    if (!(m = lb_model_load(model_dir, &lo, &err))) { st = err.code; goto out; }
    if ((st = lb_peft_load(m, adapter, &err))) goto out;
    if ((st = lb_model_merge_lora(m, &err))) goto out;
    if ((st = lb_model_save(m, output, &err))) goto out;
    /* tokenizer: the adapter's copy when it has one, else the base model's */
    char *probe = lb_path_join(adapter, "vocab.txt"), *probe2 = lb_path_join(adapter, "tokenizer.json");
    int adapter_has_tok = lb_file_exists(probe) || lb_file_exists(probe2);
    free(probe);
    free(probe2);
    if ((st = lb_copy_tokenizer_files(adapter_has_tok ? adapter : model_dir, output, &err))) goto out;
    printf("merged model written to %s\n", output);
out:
    rc = st ? cli_fail(&err) : 0;
    if (m) lb_model_free(m);
    cli_free_list(names);
    free(model_dir);
    return rc;
}
