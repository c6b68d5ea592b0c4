/* `lorabert train`: LoRA fine-tuning with the HF Trainer recipe. With no options it runs the
 * classic job: distilbert-base-uncased + LoRA (q_lin, r=4, alpha=32, dropout 0.01) on
 * shawhin/imdb-truncated, lr 1e-3, batch 4, 10 epochs, best adapter by eval loss. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "cli/cli.h"
#include "cli/progress.h"
#include "cli/train_common.h"
#include "data/labels.h"
#include "data/splits.h"
#include "model/peft.h"

/* The library's cancel flag is a volatile int (sig_atomic_t on every platform built for). */
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t is an int");
static volatile int stop_requested = 0;
static void on_signal(int sig) { (void)sig; stop_requested = 1; }

static const char usage[] =
    "usage: lorabert train [options]\n\n"
    "Fine-tunes a BERT-family classifier with LoRA exactly as HF Trainer + PEFT do, evaluating every\n"
    "epoch and keeping the best adapter (PEFT folder) in --output, with checkpoint-<step>/ folders,\n"
    "trainer_state.json, metrics.json and training_curves.svg. SIGINT/SIGTERM write a resumable\n"
    "checkpoint to OUTPUT/resume and exit 9; continue with --resume OUTPUT/resume. A non-empty\n"
    "--output is refused unless it is resumed or --overwrite-output-dir is given; checkpoints and the\n"
    "result appear whole (staging folder + rename); one process at a time writes a folder.\n";

static const char default_labels[] = "Negative,Positive";

int cmd_train(int argc, char **argv) {
    const char *model = "distilbert-base-uncased", *dataset = "shawhin/imdb-truncated", *train_file = NULL,
               *val_file = NULL, *text_col = "text", *label_col = "label", *labels = default_labels,
               *targets = "q_lin", *truncation = "left", *output = NULL, *best = "loss", *resume = NULL,
               *init_adapter = NULL, *batch_order = NULL, *pair_col = NULL, *train_split = "train",
               *val_split = "validation", *precision = "fp32";
    long epochs = 10, batch = 4, eval_batch = 4, warmup = 0, lora_r = 4, max_length = 512, seed = 42, threads = 0,
         logging = 500;
    double lr = 1e-3, wd = 0.01, max_grad_norm = 1.0, alpha = 32, dropout = 0.01;
    bool rslora = false, no_eval = false, overwrite = false;
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model, "ID|DIR", "base model: hub repo id or local HF folder", 0, 0},
        {"--dataset", OPT_STR, &dataset, "ID|DIR", "hub dataset id or HF dataset folder (split files, data/<split>-*, <config>/<split>/)", 0, 0},
        {"--train", OPT_STR, &train_file, "FILE", "training file (csv/tsv/jsonl/json/parquet); overrides --dataset", 0, 0},
        {"--validation", OPT_STR, &val_file, "FILE", "validation file; overrides --dataset", 0, 0},
        {"--text-column", OPT_STR, &text_col, "NAME", "text column", 0, 0},
        {"--text-pair-column", OPT_STR, &pair_col, "NAME", "second text of sentence-pair tasks ([CLS] A [SEP] B [SEP])", 0, 0},
        {"--label-column", OPT_STR, &label_col, "NAME", "label column (integers, or strings: see --labels)", 0, 0},
        {"--labels", OPT_STR, &labels, "A,B,..", "label names in class order (sets num_labels); string labels must each be one of them (the default names, when they do not cover the string labels, give way to the labels' sorted values, with a notice)", 0, 0},
        {"--train-split", OPT_STR, &train_split, "NAME", "--dataset split to train on", 0, 0},
        {"--validation-split", OPT_STR, &val_split, "NAME", "--dataset split to evaluate on (e.g. test)", 0, 0},
        {"--epochs", OPT_INT, &epochs, "N", "training epochs", 1, 1e6},
        {"--batch-size", OPT_INT, &batch, "N", "training batch size", 1, 65536},
        {"--eval-batch-size", OPT_INT, &eval_batch, "N", "evaluation batch size", 1, 65536},
        {"--lr", OPT_F64, &lr, "X", "peak learning rate (AdamW, linear decay)", 0, 10},
        {"--weight-decay", OPT_F64, &wd, "X", "AdamW weight decay (not on biases)", 0, 10},
        {"--warmup-steps", OPT_INT, &warmup, "N", "linear warmup steps", 0, 1e12},
        {"--max-grad-norm", OPT_F64, &max_grad_norm, "X", "global gradient-norm clip (0: off)", 0, 1e12},
        {"--lora-r", OPT_INT, &lora_r, "N", "LoRA rank", 1, 4096},
        {"--lora-alpha", OPT_F64, &alpha, "X", "LoRA alpha (scaling alpha/r)", 1e-9, 1e9},
        {"--lora-dropout", OPT_F64, &dropout, "P", "dropout on the LoRA input", 0, 0.999},
        {"--target-modules", OPT_STR, &targets, "A,B|all-linear", "PEFT module names to adapt", 0, 0},
        {"--use-rslora", OPT_FLAG, &rslora, NULL, "scaling alpha/sqrt(r)", 0, 0},
        {"--max-length", OPT_INT, &max_length, "N", "tokens per example incl. [CLS]/[SEP]", 3, 1e6},
        {"--truncation", OPT_STR, &truncation, "left|right", "which end of long texts is cut", 0, 0},
        {"--seed", OPT_INT, &seed, "N", "seed for data order, dropout, head and LoRA init", 0, 9.2e18},
        {"--threads", OPT_INT, &threads, "N", "CPU threads (0: all)", 0, 4096},
        {"--precision", OPT_STR, &precision, "fp32|bf16", "fp32: exact HF math; bf16: frozen linears in bf16 with fp32 accumulation (AMX/AVX512-BF16), LoRA, head and optimizer fp32", 0, 0},
        {"--output", OPT_STR, &output, "DIR", "output folder (default: <model>-lora-text-classification)", 0, 0},
        {"--overwrite-output-dir", OPT_FLAG, &overwrite, NULL, "--output may hold a previous run's output: it is replaced when this run completes", 0, 0},
        {"--metric-for-best", OPT_STR, &best, "M", "loss (lowest wins) | accuracy | f1 | precision | recall", 0, 0},
        {"--logging-steps", OPT_INT, &logging, "N", "log the mean training loss every N steps", 1, 1e12},
        {"--no-eval", OPT_FLAG, &no_eval, NULL, "skip per-epoch evaluation (the last epoch is the result)", 0, 0},
        {"--resume", OPT_STR, &resume, "DIR", "continue an interrupted run from OUTPUT/resume", 0, 0},
        {"--init-adapter", OPT_STR, &init_adapter, "DIR", "start from this PEFT adapter (tests)", 0, 0},
        {"--batch-order", OPT_STR, &batch_order, "FILE", "per-step batch rows, HF order.json (tests)", 0, 0},
    };
    bool help;
    int rc = cli_parse("train", usage, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &help);
    if (rc || help) return rc;
    bool left = !strcmp(truncation, "left");
    if (!left && strcmp(truncation, "right")) return cli_usage_error("train", "--truncation must be left or right");
    lb_precision prec;
    if (!lb_precision_parse(precision, &prec)) return cli_usage_error("train", "--precision must be fp32 or bf16");
    lb_best_metric bm;
    if (!strcmp(best, "loss") || !strcmp(best, "eval_loss")) bm = LB_BEST_LOSS;
    else if (!strcmp(best, "accuracy")) bm = LB_BEST_ACCURACY;
    else if (!strcmp(best, "f1")) bm = LB_BEST_F1;
    else if (!strcmp(best, "precision")) bm = LB_BEST_PRECISION;
    else if (!strcmp(best, "recall")) bm = LB_BEST_RECALL;
    else return cli_usage_error("train", "--metric-for-best must be loss, accuracy, f1, precision or recall");
    if (resume && init_adapter) return cli_usage_error("train", "--resume and --init-adapter exclude each other");
    if (output && !*output) return cli_usage_error("train", "--output is empty: name a folder");
    if (resume && !*resume) return cli_usage_error("train", "--resume is empty: name a folder");
    int nlabels = 0;
    char **label_names = lb_split_list(labels, &nlabels);
    if (nlabels < 1 || nlabels > LB_METRICS_MAX_LABELS) {
        cli_free_list(label_names);
        return cli_usage_error("train", "--labels needs 1..%d comma-separated names", LB_METRICS_MAX_LABELS);
    }
    lb_lora_config lcfg = {.r = (int)lora_r, .alpha = (float)alpha, .dropout = (float)dropout, .use_rslora = rslora};
    lb_error err = {0};
    int nt = 0;
    char **tlist = lb_split_list(targets, &nt);
    for (int i = 0; i < nt; i++)
        if (lb_peft_target_mask(tlist[i], &lcfg.target_mask, &err)) {
            cli_free_list(tlist);
            cli_free_list(label_names);
            return cli_usage_error("train", "--target-modules: %s", err.msg);
        }
    if (!lcfg.target_mask) {
        cli_free_list(tlist);
        cli_free_list(label_names);
        return cli_usage_error("train", "--target-modules is empty");
    }
    cli_set_threads(threads);
    /* An explicit --max-length above the model's positions is refused up front; the default
     * (512) only matters when an example is that long, which lb_train checks before writing. */
    bool max_length_given = false;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--max-length", 12) && (argv[i][12] == '\0' || argv[i][12] == '=')) max_length_given = true;

    char *model_dir = NULL, *out_dir = NULL, **train_paths = NULL, **val_paths = NULL, **mapped = NULL;
    int n_train = 0, n_val = 0, n_mapped = 0;
    lb_dataset ds[2];
    memset(ds, 0, sizeof ds);
    lb_tokenizer *tok = NULL;
    lb_model *m = NULL;
    lb_tokset tr = {0}, va = {0};
    int32_t *order_rows = NULL, *order_offsets = NULL;
    int64_t n_order = 0;
    lb_train_output tout;
    memset(&tout, 0, sizeof tout);
    tout.lock.fd = -1;
    lb_status st;
    if (output) out_dir = strdup(output);
    else if (resume) {
        /* OUTPUT/resume -> OUTPUT */
        out_dir = strdup(resume);
        size_t n = strlen(out_dir);
        while (n > 1 && out_dir[n - 1] == '/') out_dir[--n] = 0;
        char *slash = strrchr(out_dir, '/');
        if (slash && slash != out_dir) *slash = 0;
        else { free(out_dir); out_dir = strdup("."); }
    } else {
        const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
        size_t n = strlen(base) + 32;
        out_dir = malloc(n);
        snprintf(out_dir, n, "%s-lora-text-classification", base);
    }

    if (!out_dir) { st = lb_err(&err, LB_ERR_NOMEM, "out of memory"); goto fail; }
    {
        lb_train_opts oo;
        lb_train_defaults(&oo);
        oo.output_dir = out_dir;
        oo.resume_dir = resume;
        oo.overwrite_output = overwrite;
        if ((st = lb_train_output_open(&oo, &tout, &err))) goto fail;
    }
    if ((st = cli_resolve_model(model, &model_dir, &err))) goto fail;
    if (!(tok = lb_tokenizer_load(model_dir, &err))) { st = err.code; goto fail; }
    if (train_file) st = lb_data_resolve_split(train_file, "train", &train_paths, &n_train, &err);
    else st = lb_data_resolve_split(dataset, train_split, &train_paths, &n_train, &err);
    if (st) goto fail;
    if (!no_eval) {
        if (val_file) st = lb_data_resolve_split(val_file, "validation", &val_paths, &n_val, &err);
        else if (train_file)
            st = lb_err(&err, LB_ERR_USAGE, "--train given without --validation (or pass --no-eval)");
        else st = lb_data_resolve_split(dataset, val_split, &val_paths, &n_val, &err);
        if (st) goto fail;
    }
    /* data before the model: string labels decide the classes the head is built for */
    lb_dataset_opts dop = {.text_column = text_col, .label_column = label_col, .text_pair_column = pair_col,
                           .require_labels = true};
    if ((st = lb_data_load_shards(train_paths, n_train, &dop, &ds[0], &err))) goto fail;
    if (val_paths && (st = lb_data_load_shards(val_paths, n_val, &dop, &ds[1], &err))) goto fail;
    /* one class set for train and validation (data/labels.h): --labels given is exact; the
     * default names give way to the labels' sorted values, which the notice says */
    bool labels_given = labels != default_labels, sorted = false;
    lb_label_spec spec = {.names = label_names, .n_names = nlabels,
                          .policy = labels_given ? LB_LABELS_EXACT : LB_LABELS_DEFAULT_NAMES,
                          .origin = labels_given ? "--labels" : "the default --labels"};
    if ((st = lb_labels_map(ds, val_paths ? 2 : 1, &spec, &mapped, &n_mapped, &sorted, &err))) goto fail;
    if (sorted) {
        fprintf(stderr, "lorabert: notice: the label names of %s are not all among the default --labels (%s); the "
                "classes are their sorted values instead:", train_paths[0], default_labels);
        for (int i = 0; i < n_mapped; i++) fprintf(stderr, " %d=%s", i, mapped[i]);
        fprintf(stderr, " (pass --labels to choose names and order)\n");
    }
    if (mapped) {
        if (n_mapped > LB_METRICS_MAX_LABELS) {
            st = lb_err(&err, LB_ERR_FORMAT, "%s: %d distinct labels (at most %d)", train_paths[0], n_mapped,
                        LB_METRICS_MAX_LABELS);
            goto fail;
        }
        cli_free_list(label_names);
        label_names = mapped;
        nlabels = n_mapped;
        mapped = NULL;
        cli_print_labels(stdout, label_names, nlabels);
    }
    lb_load_opts lo = {.num_labels = nlabels, .labels = label_names, .seed = (uint64_t)seed, .quiet = false};
    if (!(m = lb_model_load(model_dir, &lo, &err))) { st = err.code; goto fail; }
    if (lb_model_load_notice(m)) fprintf(stderr, "%s\n", lb_model_load_notice(m));
    /* before anything is tokenized or written: the first forward would fail on a long text */
    if (max_length_given && max_length > lb_model_get_config(m)->max_pos) {
        st = lb_err(&err, LB_ERR_USAGE, "--max-length %ld exceeds the model's %d positions (max_position_embeddings "
                    "in %s/config.json)", max_length, lb_model_get_config(m)->max_pos, model_dir);
        goto fail;
    }
    /* target names must be this architecture's (q_lin is DistilBERT's, query BERT's) */
    for (int i = 0; i < nt; i++) {
        if (!strcmp(tlist[i], "all-linear") || strchr(tlist[i], '.')) continue;
        unsigned mk = 0;
        lb_peft_target_mask(tlist[i], &mk, NULL);
        int ok = 0;
        for (int k = 0; k < LB_LIN__COUNT; k++)
            if ((mk & (1u << k)) && !strcmp(lb_model_linear_name(m, (lb_linear)k), tlist[i])) ok = 1;
        if (!ok) {
            st = lb_err(&err, LB_ERR_USAGE, "--target-modules: '%s' is not a linear layer of this model (%s, %s, ...)",
                        tlist[i], lb_model_linear_name(m, LB_LIN_Q), lb_model_linear_name(m, LB_LIN_V));
            goto fail;
        }
    }
    if (resume) st = lb_peft_load(m, resume, &err);
    else if (init_adapter) st = lb_peft_load(m, init_adapter, &err);
    else st = lb_model_add_lora(m, &lcfg, (uint64_t)seed, &err);
    if (st || (st = lb_model_set_precision(m, prec, &err))) goto fail;
    const lb_model_config *mc = lb_model_get_config(m);
    if ((st = cli_tokset(&ds[0], tok, mc->num_labels, (int)max_length, left, train_paths[0], &tr, &err))) goto fail;
    if (val_paths && (st = cli_tokset(&ds[1], tok, mc->num_labels, (int)max_length, left, val_paths[0], &va, &err)))
        goto fail;
    lb_dataset_free(&ds[0]);
    lb_dataset_free(&ds[1]);
    if (batch_order) {
        int oe = 0;
        if ((st = lb_batch_order_load(batch_order, &order_rows, &order_offsets, &n_order, &oe, &err))) goto fail;
        if (oe && oe != epochs) {
            st = lb_err(&err, LB_ERR_USAGE, "%s is for %d epochs, --epochs is %ld", batch_order, oe, epochs);
            goto fail;
        }
    }
    lb_train_opts to;
    lb_train_defaults(&to);
    to.epochs = (int)epochs;
    to.batch_size = (int)batch;
    to.eval_batch_size = (int)eval_batch;
    to.lr = lr;
    to.weight_decay = (float)wd;
    to.warmup_steps = warmup;
    to.max_grad_norm = max_grad_norm;
    to.seed = (uint64_t)seed;
    to.logging_steps = (int)logging;
    to.best = bm;
    to.output_dir = out_dir;
    to.overwrite_output = overwrite;
    to.output = &tout;
    to.base_model_name = model;
    to.tokenizer_dir = model_dir;
    to.label_names = label_names;
    to.order_rows = order_rows;
    to.order_offsets = order_offsets;
    to.n_order_steps = n_order;
    to.resume_dir = resume;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND;   /* a second signal ends the process at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cli_progress prog;
    cli_progress_init(&prog, stdout);
    lb_train_callbacks cb = cli_progress_callbacks(&prog, &stop_requested);
    lb_train_result res;
    lb_trainer *trainer = NULL;
    st = lb_trainer_open(m, &tr, val_paths ? &va : NULL, &to, &cb, &trainer, &err);
    if (!st) st = lb_trainer_run(trainer, &res, &err);
    lb_trainer_close(trainer);
    cli_progress_end(&prog);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (st) goto fail;
    printf("train_loss %.6f, %.0f tokens/s, %.1f s\n", res.train_loss, res.tokens_per_s, res.runtime_s);
fail:
    rc = st ? cli_fail(&err) : 0;
    lb_train_output_close(&tout);
    lb_tokset_free(&tr);
    lb_tokset_free(&va);
    if (m) lb_model_free(m);
    if (tok) lb_tokenizer_free(tok);
    lb_dataset_free(&ds[0]);
    lb_dataset_free(&ds[1]);
    free(model_dir);
    cli_free_list(train_paths);
    cli_free_list(val_paths);
    cli_free_list(mapped);
    free(out_dir);
    free(order_rows);
    free(order_offsets);
    cli_free_list(tlist);
    cli_free_list(label_names);
    return rc;
}
