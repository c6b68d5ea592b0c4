/* `lorabert merge`: folds a PEFT adapter into its base model (PEFT merge_and_unload) and saves a
 * plain HF model folder (config.json + model.safetensors + tokenizer files) that
 * AutoModelForSequenceClassification loads directly. The folder is written whole in a staging
 * folder beside --output and published in one rename (base/outdir.h), under --output's lock;
 * an --output that is, holds or lies inside --model or --adapter is refused, as is an existing
 * folder holding anything merge does not write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "base/outdir.h"
#include "cli/cli.h"
#include "cli/train_common.h"
#include "formats/peft_adapter.h"

static const char usage[] =
    "usage: lorabert merge --model ID|DIR --adapter DIR --output DIR\n\n"
    "Merges the adapter into the base weights (W += scaling * B A; the trained head replaces the\n"
    "original) and writes a plain Hugging Face model folder. An existing --output that holds only\n"
    "what merge writes is replaced as a whole; --output may not be, hold or lie in --model or --adapter.\n";

/* What merge writes (an existing --output may hold only these, and leftovers of killed merges). */
static const char *const merge_files[] = {"config.json", "model.safetensors", "tokenizer.json", "vocab.txt",
                                          "tokenizer_config.json", "special_tokens_map.json", NULL};

static bool is_merge_file(const char *name) {
    for (const char *const *f = merge_files; *f; f++)
        if (!strcmp(*f, name)) return true;
    return false;
}

/* Refuses an output folder that overlaps an input folder (writing it would destroy the input). */
static lb_status check_overlap(const char *out, const char *out_arg, const char *in, const char *what,
                               lb_error *err) {
    char *c = NULL;
    lb_status st = lb_path_canonical(in, &c, err);
    if (st) return st;
    if (!strcmp(out, c)) st = lb_err(err, LB_ERR_USAGE, "--output %s is the %s folder", out_arg, what);
    else if (lb_path_within(out, c)) st = lb_err(err, LB_ERR_USAGE, "--output %s lies inside the %s folder %s", out_arg, what, in);
    else if (lb_path_within(c, out)) st = lb_err(err, LB_ERR_USAGE, "--output %s holds the %s folder %s", out_arg, what, in);
    free(c);
    return st;
}

/* Locks and cleans --output, refuses one holding files merge does not write. */
static lb_status open_output(const char *out, const char *out_arg, lb_outdir_lock *lk, lb_error *err) {
    lb_status st = lb_outdir_lock_acquire(out, lk, err);
    if (!st) st = lb_outdir_clean(out, err);
    if (st || !lb_dir_exists(out)) return st;
    if ((st = lb_outdir_clean_inside(out, merge_files, NULL, err))) return st;
    char **names;
    int n;
    if ((st = lb_dir_list(out, &names, &n, err))) return st;
    char list[512] = "";
    size_t used = 0;
    int nforeign = 0;
    for (int i = 0; i < n; i++) {
        if (is_merge_file(names[i])) continue;
        if (nforeign++ < 6 && used + 1 < sizeof list) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", names[i]);
            if (w > 0) used += (size_t)w;
        }
    }
    if (nforeign > 6 && used + 1 < sizeof list) snprintf(list + used, sizeof list - used, ", ... (%d entries)", nforeign);
    if (nforeign)
        st = lb_err(err, LB_ERR_USAGE, "%s: the output folder holds entries merge does not write (%s); merge replaces "
                    "its output folder as a whole: choose another --output", out_arg, list);
    lb_dir_list_free(names);
    return st;
}

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
    if (!*output) return cli_usage_error("merge", "--output is empty: name a folder");
    cli_set_threads(threads);
    lb_error err = {0};
    char *model_dir = NULL;
    char **names = NULL;
    int nlabels = 0;
    lb_model *m = NULL;
    char *out_dir = NULL;
    lb_outdir_lock lock = {.fd = -1};
    lb_staging sg = {0};
    lb_status st;
    if ((st = cli_resolve_model(model, &model_dir, &err))) goto out;
    if ((st = lb_outdir_check_target(output, "--output", &err))) goto out;
    if ((st = lb_path_canonical(output, &out_dir, &err))) goto out;
    if ((st = check_overlap(out_dir, output, model_dir, "--model", &err))) goto out;
    if ((st = check_overlap(out_dir, output, adapter, "--adapter", &err))) goto out;
    if ((st = open_output(out_dir, output, &lock, &err))) goto out;
    if ((st = cli_adapter_labels(adapter, &nlabels, &names, &err))) goto out;
    lb_load_opts lo = {.num_labels = nlabels, .labels = names, .seed = 0, .quiet = true};
    if (!(m = lb_model_load(model_dir, &lo, &err))) { st = err.code; goto out; }
    if ((st = lb_peft_load(m, adapter, &err))) goto out;
    if ((st = lb_model_merge_lora(m, &err))) goto out;
    if ((st = lb_staging_begin(&sg, out_dir, &err))) goto out;
    if ((st = lb_model_save(m, sg.dir, &err))) {
        if (st == LB_ERR_NUMERIC) lb_err_prefix(&err, "%s", output);   /* not the staging folder's name */
        goto out;
    }
    /* tokenizer: the adapter's copy when it has one, else the base model's */
    char *probe = lb_path_join(adapter, "vocab.txt"), *probe2 = lb_path_join(adapter, "tokenizer.json");
    int adapter_has_tok = lb_file_exists(probe) || lb_file_exists(probe2);
    free(probe);
    free(probe2);
    if ((st = lb_copy_tokenizer_files(adapter_has_tok ? adapter : model_dir, sg.dir, &err))) goto out;
    if ((st = lb_staging_commit(&sg, &err))) goto out;
    printf("merged model written to %s\n", output);
out:
    lb_staging_abort(&sg);   /* not published: --output is unchanged */
    lb_outdir_lock_release(&lock);
    free(out_dir);
    rc = st ? cli_fail(&err) : 0;
    if (m) lb_model_free(m);
    cli_free_list(names);
    free(model_dir);
    return rc;
}
