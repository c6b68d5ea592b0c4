/* `lorabert train`: LoRA fine-tuning with the HF Trainer recipe. With no options it runs the
 * classic job: distilbert-base-uncased + LoRA (q_lin, r=4, alpha=32, dropout 0.01) on
 * shawhin/imdb-truncated, lr 1e-3, batch 4, 10 epochs, best adapter by eval loss. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/dist.h"
#include "cli/options.h"
#include "cli/progress.h"

/* The library's cancel flag is a volatile int (sig_atomic_t on every platform built for). */
_Static_assert(sizeof(sig_atomic_t) == sizeof(int), "sig_atomic_t is an int");
static volatile int stop_requested = 0;
static void on_signal(int sig) {
    (void)sig;
    stop_requested = 1;
}

static const char usage[] =
    "usage: lorabert train [options]\n\n"
    "Fine-tunes a BERT-family classifier with LoRA exactly as HF Trainer + PEFT do, evaluating every\n"
    "epoch and keeping the best adapter (PEFT folder) in --output, with checkpoint-<step>/ folders,\n"
    "trainer_state.json, metrics.json and training_curves.svg. SIGINT/SIGTERM write a resumable\n"
    "checkpoint to OUTPUT/resume and exit 9; continue with --resume OUTPUT/resume. Every\n"
    "checkpoint-<step>/ carries the resume state too: after a SIGKILL, OOM kill or power cut,\n"
    "--resume OUTPUT continues from the newest one (or --resume OUTPUT/checkpoint-<step>). A non-empty\n"
    "--output is refused unless it is resumed or --overwrite-output-dir is given; checkpoints and the\n"
    "result appear whole (staging folder + rename); one process at a time writes a folder.\n\n"
    "Data-parallel: mpirun -np N lorabert train ... (a build with Open MPI): every process reads the\n"
    "same model, data and options (checked at start), computes its share of each step's batches\n"
    "(effective batch = --batch-size x N x --gradient-accumulation-steps) and rank 0 writes --output;\n"
    "the result is bit-identical for any N with the same effective batch (docs/distributed.md).\n";

static const char default_labels[] = "Negative,Positive";

int cmd_train(int argc, char **argv) {
    const char *model = "distilbert-base-uncased", *dataset = "shawhin/imdb-truncated", *train_file = NULL,
               *val_file = NULL, *text_col = "text", *label_col = "label", *labels = default_labels, *targets = NULL,
               *truncation = "left", *output = NULL, *best = "loss", *resume = NULL, *init_adapter = NULL,
               *batch_order = NULL, *pair_col = NULL, *train_split = "train", *val_split = "validation",
               *precision = "fp32";
    long epochs = 10, batch = 4, eval_batch = 4, warmup = 0, lora_r = 4, max_length = 512, seed = 42, threads = 0,
         logging = 500, accum = 1;
    double lr = 1e-3, wd = 0.01, max_grad_norm = 1.0, alpha = 32, dropout = 0.01;
    bool rslora = false, no_eval = false, overwrite = false, dora = false;
    /* issue 16: PEFT options */
    const char *lora_init = "default";
    const char *rank_pattern = NULL, *alpha_pattern = NULL, *mts = NULL;
    double loraplus = 0;
    /* issue 16: schedule, evaluation / saving strategies, early stopping, reporting */
    const char *lr_sched = "linear", *report_to = "none", *logging_dir = NULL, *greater = NULL, *eval_strategy = NULL,
               *save_strategy = "epoch", *load_best = "true";
    double eval_steps = 0, save_steps = 500;
    double warmup_ratio = 0, es_threshold = 0;
    long es_patience = 0, save_limit = 0;
    /* the loss (issue 16): label smoothing or class weights */
    double label_smoothing = 0;
    const char *class_weights = NULL;
    /* issue 16: problem types (multi-label, regression) */
    const char *problem_type = NULL, *label_columns = NULL, *label_format = NULL;
    double threshold = 0;
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model, "ID|DIR", "base model: hub repo id or local HF folder", 0, 0},
        {"--dataset", OPT_STR, &dataset, "ID|DIR",
         "hub dataset id or HF dataset folder (split files, data/<split>-*, <config>/<split>/)", 0, 0},
        {"--train", OPT_STR, &train_file, "FILE", "training file (csv/tsv/jsonl/json/parquet); overrides --dataset", 0,
         0},
        {"--validation", OPT_STR, &val_file, "FILE", "validation file; overrides --dataset", 0, 0},
        {"--text-column", OPT_STR, &text_col, "NAME", "text column", 0, 0},
        {"--text-pair-column", OPT_STR, &pair_col, "NAME", "second text of sentence-pair tasks ([CLS] A [SEP] B [SEP])",
         0, 0},
        {"--label-column", OPT_STR, &label_col, "NAME", "label column (integers, or strings: see --labels)", 0, 0},
        {"--labels", OPT_STR, &labels, "A,B,..",
         "label names in class order (sets num_labels); string labels must each be one of them (the default names, when they do not cover the string labels, give way to the labels' sorted values, with a notice)",
         0, 0},
        {"--train-split", OPT_STR, &train_split, "NAME", "--dataset split to train on", 0, 0},
        {"--validation-split", OPT_STR, &val_split, "NAME", "--dataset split to evaluate on (e.g. test)", 0, 0},
        {"--epochs", OPT_INT, &epochs, "N", "training epochs", 1, 10000},
        {"--batch-size", OPT_INT, &batch, "N",
         "training batch size per process and micro-batch (HF per_device_train_batch_size): the effective batch is this x processes (mpirun -np) x --gradient-accumulation-steps",
         1, 65536},
        {"--gradient-accumulation-steps", OPT_INT, &accum, "K",
         "micro-batches per optimizer step on each process (HF semantics: each loss / K, clip and step after K)", 1,
         4096},
        {"--eval-batch-size", OPT_INT, &eval_batch, "N", "evaluation batch size", 1, 65536},
        {"--lr", OPT_F64, &lr, "X", "peak learning rate (AdamW, --lr-scheduler-type decay)", 0, 10},
        {"--weight-decay", OPT_F64, &wd, "X", "AdamW weight decay (not on biases)", 0, 10},
        {"--warmup-steps", OPT_INT, &warmup, "N", "linear warmup steps (> 0: wins over --warmup-ratio)", 0, 1e12},
        {"--max-grad-norm", OPT_F64, &max_grad_norm, "X", "global gradient-norm clip (0: off)", 0, 1e12},
        {"--lora-r", OPT_INT, &lora_r, "N", "LoRA rank", 1, 4096},
        {"--lora-alpha", OPT_F64, &alpha, "X", "LoRA alpha (scaling alpha/r)", 1e-9, 1e9},
        {"--lora-dropout", OPT_F64, &dropout, "P", "dropout on the LoRA input", 0, 0.999},
        {"--target-modules", OPT_STR, &targets, "A,B|all-linear",
         "PEFT module names to adapt (default: the architecture's query projection, the seed recipe's choice: q_lin for DistilBERT, query for BERT / RoBERTa / XLM-R, Wqkv for ModernBERT)",
         0, 0},
        {"--use-rslora", OPT_FLAG, &rslora, NULL, "scaling alpha/sqrt(r)", 0, 0},
        {"--use-dora", OPT_FLAG, &dora, NULL,
         "DoRA (PEFT use_dora): a trainable magnitude per output row of each adapted linear, weight m (W + s B A) / ||W + s B A|| (PEFT 0.14's formula; the adapter loads in PEFT >= 0.9)",
         0, 0},
        {"--lora-init", OPT_STR, &lora_init, "default|gaussian|false|pissa|olora",
         "PEFT init_lora_weights: default (A kaiming-uniform, B = 0), gaussian (A ~ N(0, 1/r^2), B = 0), false (B random too: the model starts changed); pissa (SVD of W) and olora (QR of W) move W's principal part into A, B and train on the residual base in memory, and the adapter is SAVED converted to a plain rank-2r LoRA (init true, alpha doubled) that fits the ORIGINAL base, as PEFT's save_pretrained(path_initial_model_for_weight_conversion=...); not with DoRA or ModernBERT",
         0, 0},
        {"--lora-rank-pattern", OPT_STR, &rank_pattern, "KEY=N,..",
         "PEFT rank_pattern: modules whose path matches the regex .*\\.KEY$ get rank N (e.g. layer.0.attention.q_lin=8,lin2=2)",
         0, 0},
        {"--lora-alpha-pattern", OPT_STR, &alpha_pattern, "KEY=X,..", "PEFT alpha_pattern: the same for --lora-alpha",
         0, 0},
        {"--modules-to-save", OPT_STR, &mts, "A,B",
         "PEFT modules_to_save beyond the head: modules whose name ends with A or B train in full (the encoder blocks' linears and LayerNorms, e.g. lin1, output_layer_norm, layer.5.output.LayerNorm)",
         0, 0},
        {"--loraplus-lr-ratio", OPT_F64, &loraplus, "X",
         "LoRA+ (PEFT create_loraplus_optimizer): lora_B tensors and 1-D tensors (biases) learn at --lr x X, the rest at --lr (0: off)",
         0, 1e6},
        {"--max-length", OPT_INT, &max_length, "N", "tokens per example incl. [CLS]/[SEP]", 3, 1e6},
        {"--truncation", OPT_STR, &truncation, "left|right", "which end of long texts is cut", 0, 0},
        {"--label-smoothing-factor", OPT_F64, &label_smoothing, "X",
         "HF's label smoothing in [0, 1): loss (1-X) x cross-entropy + X x the mean over the classes of -log p (also the per-epoch eval loss)",
         0, 1},
        {"--class-weights", OPT_STR, &class_weights, "auto|W0,W1,..",
         "weighted cross-entropy (torch CrossEntropyLoss(weight=W), each batch's sum w[y] x loss / sum w[y]; also the per-epoch eval loss): one weight > 0 per label in label order, or auto = n / (num_labels x count of the label) over the training set (sklearn \"balanced\"); not with --label-smoothing-factor",
         0, 0},
        {"--problem-type", OPT_STR, &problem_type, "single_label_classification|multi_label_classification|regression",
         "what the labels are (default: multi_label_classification with --label-columns, else the model's config.json problem_type, else HF's rule: one label is regression): class ids or names and cross-entropy; several labels per text (0/1 --label-columns or a column of lists, BCEWithLogitsLoss); or a number per text (--label-column, MSELoss). Saved in the adapter's labels.json for predict, eval and serve",
         0, 0},
        {"--label-columns", OPT_STR, &label_columns, "A,B,..",
         "multi-label: columns of 0/1 (true/false), one per label; the label names are the columns' names (without it, multi-label reads --label-column's lists)",
         0, 0},
        {"--label-format", OPT_STR, &label_format, "auto|multi-hot",
         "multi-label lists in --label-column: auto (strings are label names, integers class ids, floats/booleans 0/1 vectors) or multi-hot (every list a 0/1 vector of one value per label)",
         0, 0},
        {"--threshold", OPT_F64, &threshold, "P",
         "multi-label per-epoch metrics: a label is predicted when its sigmoid is >= P (default 0.5)", 1e-9, 0.999999},
        {"--seed", OPT_INT, &seed, "N", "seed for data order, dropout, head and LoRA init", 0, 9.2e18},
        {"--threads", OPT_INT, &threads, "N", "CPU threads (0: all)", 0, 4096},
        {"--precision", OPT_STR, &precision, "fp32|bf16",
         "fp32: exact HF math; bf16: frozen linears in bf16 with fp32 accumulation (AMX/AVX512-BF16), LoRA, head and optimizer fp32",
         0, 0},
        {"--output", OPT_STR, &output, "DIR", "output folder (default: <model>-lora-text-classification)", 0, 0},
        {"--overwrite-output-dir", OPT_FLAG, &overwrite, NULL,
         "--output may hold a previous run's output: it is replaced when this run completes", 0, 0},
        {"--metric-for-best", OPT_STR, &best, "M",
         "loss (lowest wins) | accuracy | f1 | precision | recall; regression: mse | mae (lowest wins) | pearson | spearman",
         0, 0},
        {"--logging-steps", OPT_INT, &logging, "N", "log the mean training loss every N steps", 1, 1e12},
        {"--no-eval", OPT_FLAG, &no_eval, NULL, "skip per-epoch evaluation (the last epoch is the result)", 0, 0},
        {"--resume", OPT_STR, &resume, "DIR",
         "continue a run from OUTPUT/resume, from OUTPUT/checkpoint-<step>, or from OUTPUT (its newest checkpoint "
         "with resume state, or resume/ when further on)",
         0, 0},
        {"--init-adapter", OPT_STR, &init_adapter, "DIR", "start from this PEFT adapter (tests)", 0, 0},
        {"--batch-order", OPT_STR, &batch_order, "FILE", "rows of each micro-batch, HF order.json (tests)", 0, 0},
        /* issue 16: schedule, evaluation / saving strategies, early stopping, reporting */
        {"--lr-scheduler-type", OPT_STR, &lr_sched, "NAME",
         "learning-rate schedule after the warmup (HF lr_scheduler_type): linear | cosine | cosine_with_restarts | "
         "polynomial (to 1e-7) | constant (no warmup) | constant_with_warmup",
         0, 0},
        {"--warmup-ratio", OPT_F64, &warmup_ratio, "X",
         "warmup as a fraction of the run's steps, ceil(steps x X), used when --warmup-steps is 0", 0, 1},
        {"--eval-strategy", OPT_STR, &eval_strategy, "no|steps|epoch",
         "evaluate at each epoch's end (epoch: the default with a validation set), after every --eval-steps "
         "global steps (steps) or never (no, as --no-eval)",
         0, 0},
        {"--evaluation-strategy", OPT_STR, &eval_strategy, "no|steps|epoch",
         "the same as --eval-strategy (HF 4.32's name)", 0, 0},
        {"--eval-steps", OPT_F64, &eval_steps, "N|X",
         "--eval-strategy steps: evaluate after every N-th global step, or a ratio X < 1 of the run's steps "
         "(ceil); 0: --logging-steps (HF)",
         0, 1e15},
        {"--save-strategy", OPT_STR, &save_strategy, "no|steps|epoch",
         "checkpoint-<step>/ at each epoch's end (epoch), after every --save-steps global steps (steps) or never "
         "(no); the best checkpoint is decided at a save whose step was evaluated",
         0, 0},
        {"--save-steps", OPT_F64, &save_steps, "N|X",
         "--save-strategy steps: checkpoint after every N-th global step, or a ratio X < 1 of the run's steps", 1e-12,
         1e15},
        {"--load-best-model-at-end", OPT_STR, &load_best, "true|false",
         "true (default): the best checkpoint's adapter is the result; with evaluations the strategies must then "
         "match and --save-steps be a round multiple of --eval-steps (HF); false: the last step's adapter (the best "
         "is still tracked and kept by --save-total-limit)",
         0, 0},
        {"--greater-is-better", OPT_STR, &greater, "true|false",
         "direction of --metric-for-best (default: false for loss, true for the others)", 0, 0},
        {"--early-stopping-patience", OPT_INT, &es_patience, "N",
         "stop after N evaluations in a row without improvement (HF EarlyStoppingCallback; 0: off)", 0, 1e9},
        {"--early-stopping-threshold", OPT_F64, &es_threshold, "X",
         "an improvement of --metric-for-best must exceed X to reset the patience", 0, 1e300},
        {"--save-total-limit", OPT_INT, &save_limit, "N",
         "keep at most N checkpoint-<step>/ folders, never deleting the best (0: all)", 0, 1e9},
        {"--report-to", OPT_STR, &report_to, "none|tensorboard",
         "tensorboard: the logged values as TensorBoard scalars (HF's TensorBoardCallback tags) in --logging-dir", 0,
         0},
        {"--logging-dir", OPT_STR, &logging_dir, "DIR",
         "TensorBoard event files' folder (default: OUTPUT/runs/<MonDD_HH-MM-SS>_<host>, a new one per run)", 0, 0},
    };
    bool help;
    int rc = cli_parse("train", usage, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &help);
    if (rc || help) return rc;
    /* the options that name one of a set (and --logging-dir), in one table, checked in this order
     * before anything is loaded; --precision's names are lb_precision_parse's */
    static const char *const sides[] = {"left", "right", NULL};
    static const char *const precisions[] = {"fp32", "bf16", "int8", NULL};
    static const char *const train_precisions[] = {"fp32", "bf16", NULL};
    static const char *const best_names[] = {"loss", "eval_loss", "accuracy", "f1",       "precision", "recall",
                                             "mse",  "mae",       "pearson",  "spearman", NULL};
    static const char *const sched_names[] = {
        "linear", "cosine", "cosine_with_restarts", "polynomial", "constant", "constant_with_warmup", NULL};
    static const char *const reporters[] = {"none", "tensorboard", NULL};
    static const char *const strategies[] = {"epoch", "no", "steps", NULL};
    static const char *const booleans[] = {"true", "false", NULL};
    const cli_choice choices[] = {
        {truncation, sides, "--truncation must be left or right"},
        {precision, precisions, "--precision must be fp32 or bf16"},
        {precision, train_precisions,
         "--precision int8 is for inference only (eval, predict, serve); train in fp32 or bf16"},
        {best, best_names,
         "--metric-for-best must be loss, accuracy, f1, precision or recall (regression: mse, mae, pearson or "
         "spearman)"},
        {lr_sched, sched_names,
         "--lr-scheduler-type must be linear, cosine, cosine_with_restarts, polynomial, constant or "
         "constant_with_warmup"},
        {report_to, reporters, "--report-to must be none or tensorboard"},
        {logging_dir, NULL, "--logging-dir is empty: name a folder"},
        {eval_strategy, strategies, "--eval-strategy must be no, steps or epoch"},
        {save_strategy, strategies, "--save-strategy must be no, steps or epoch"},
        {load_best, booleans, "--load-best-model-at-end must be true or false"},
    };
    rc = cli_check_choices("train", choices, (int)(sizeof choices / sizeof choices[0]));
    if (rc) return rc;
    bool left = !strcmp(truncation, "left");
    lb_precision prec = LB_PRECISION_FP32;
    (void)lb_precision_parse(precision, &prec); /* one of the names the table let through */
    if (no_eval && eval_strategy && strcmp(eval_strategy, "no"))
        return cli_usage_error("train", "--no-eval and --eval-strategy %s exclude each other", eval_strategy);
    if (eval_strategy && !strcmp(eval_strategy, "no")) no_eval = true;
    const struct {
        const char *name;
        double v;
    } step_opts[] = {{"--eval-steps", eval_steps}, {"--save-steps", save_steps}};
    for (size_t i = 0; i < sizeof step_opts / sizeof *step_opts; i++)
        if (step_opts[i].v > 1 && step_opts[i].v != (double)(long long)step_opts[i].v)
            return cli_usage_error("train", "%s must be an integer if bigger than 1: %g", step_opts[i].name,
                                   step_opts[i].v);
    const cli_choice greater_choice = {greater, booleans, "--greater-is-better must be true or false"};
    rc = cli_check_choices("train", &greater_choice, 1);
    if (rc) return rc;
    if (resume && init_adapter) return cli_usage_error("train", "--resume and --init-adapter exclude each other");
    if (output && !*output) return cli_usage_error("train", "--output is empty: name a folder");
    if (resume && !*resume) return cli_usage_error("train", "--resume is empty: name a folder");
    if (label_smoothing >= 1)
        return cli_usage_error("train", "--label-smoothing-factor %g: expected 0 <= X < 1", label_smoothing);
    if (label_smoothing > 0 && class_weights)
        return cli_usage_error("train", "--class-weights and --label-smoothing-factor together are not supported");
    int nlabels = 0;
    char **label_names = cli_split_list(labels, &nlabels);
    if (nlabels < 1 || nlabels > LB_MAX_LABELS) {
        cli_free_list(label_names);
        return cli_usage_error("train", "--labels needs 1..%d comma-separated names", LB_MAX_LABELS);
    }
    /* the LoRA settings on their own (target module names) before anything is loaded; whether
     * the targets are this model's layers is lb_model_add_adapter's check */
    lb_lora_options lora = {.r = (int)lora_r,
                            .alpha = alpha,
                            .dropout = dropout,
                            .target_modules = targets,
                            .use_rslora = rslora,
                            .init = lora_init,
                            .rank_pattern = rank_pattern,
                            .alpha_pattern = alpha_pattern,
                            .modules_to_save = mts,
                            .seed = (uint64_t)seed,
                            .seed_set = true,
                            .use_dora = dora};
    lb_error err = {0};
    if (targets && !*targets) {
        cli_free_list(label_names);
        return cli_usage_error("train", "--target-modules is empty");
    }
    /* each group of LoRA options on its own first, so that the message names the option at fault
     * (the patterns' messages name theirs), then all of them together */
    const struct {
        lb_lora_options o;
        const char *prefix;
    } lora_checks[] = {
        {{.init = lora_init}, "--lora-init: "},
        {{.rank_pattern = rank_pattern, .alpha_pattern = alpha_pattern}, ""},
        {{.modules_to_save = mts}, "--modules-to-save: "},
        {lora, "--target-modules: "},
    };
    for (size_t i = 0; i < sizeof lora_checks / sizeof *lora_checks; i++)
        if (lb_lora_options_check(&lora_checks[i].o, &err)) {
            cli_free_list(label_names);
            return cli_usage_error("train", "%s%s", lora_checks[i].prefix, err.msg);
        }
    cli_set_threads(threads);
    /* An explicit --max-length above the model's positions is refused up front; the default
     * (512) only matters when an example is that long, which the run checks before writing. */
    bool max_length_given = false;
    for (int i = 1; i < argc; i++)
        if (!strncmp(argv[i], "--max-length", 12) && (argv[i][12] == '\0' || argv[i][12] == '='))
            max_length_given = true;

    char *model_dir = NULL, *out_dir = NULL, **classes = NULL, *resume_found = NULL;
    lb_dataset *ds[2] = {NULL, NULL};
    lb_model *m = NULL;
    lb_train_output *reserved = NULL;
    lb_status st;
    const lb_collective *coll = cli_dist_collective();
    const int rank = cli_dist_rank();
    bool quiet_fail = false;
    if (!no_eval && train_file && !val_file) {
        st = cli_err(&err, LB_ERR_USAGE, "--train given without --validation (or pass --no-eval)");
        goto fail;
    }
    if (resume) {
        /* HF's resume_from_checkpoint: OUTPUT/resume, OUTPUT/checkpoint-<step>, or OUTPUT (its
         * newest checkpoint with resume state, or resume/ when further on) */
        if ((st = lb_train_resume_find(resume, &resume_found, &err))) goto fail;
        if (strcmp(resume_found, resume) && rank == 0)
            fprintf(stderr, "lorabert: notice: --resume %s: continuing from %s\n", resume, resume_found);
        resume = resume_found;
    }
    if (output) out_dir = strdup(output);
    else if (resume) {
        /* OUTPUT/resume or OUTPUT/checkpoint-<step> -> OUTPUT */
        out_dir = strdup(resume);
        size_t n = out_dir ? strlen(out_dir) : 0;
        while (n > 1 && out_dir[n - 1] == '/') out_dir[--n] = 0;
        char *slash = out_dir ? strrchr(out_dir, '/') : NULL;
        if (slash && slash != out_dir) *slash = 0;
        else if (out_dir) {
            free(out_dir);
            out_dir = strdup(".");
        }
    } else {
        const char *base = strrchr(model, '/') ? strrchr(model, '/') + 1 : model;
        size_t n = strlen(base) + 32;
        if ((out_dir = malloc(n))) snprintf(out_dir, n, "%s-lora-text-classification", base);
    }
    if (!out_dir) {
        st = cli_err(&err, LB_ERR_NOMEM, "out of memory");
        goto fail;
    }

    lb_train_options to;
    lb_train_options_init(&to);
    to.output_dir = out_dir;
    to.overwrite_output_dir = overwrite;
    to.resume_from_checkpoint = resume;
    /* the output folder first (lock, refusal of a busy or foreign one): before any download.
     * In a data-parallel run rank 0 alone takes and writes it. */
    if (rank == 0 && (st = lb_train_output_open(&to, &reserved, &err))) goto fail;
    /* then the model's files (a missing model is reported before the data is fetched) */
    if ((st = lb_model_resolve(model, NULL, &model_dir, &err))) goto fail;
    /* the problem type decides how the data is read: the option, else multi-label with label
     * columns, else the model's (lb_describe applies HF's rule) */
    lb_problem_type problem = LB_PROBLEM_SINGLE_LABEL, model_problem = LB_PROBLEM_SINGLE_LABEL;
    if (!resume && !init_adapter) { /* the model's own problem type (lb_describe applies HF's rule) */
        char *desc = NULL;
        if (lb_describe(model_dir, &desc, &err) == LB_OK && desc) {
            const char *p = strstr(desc, "\"problem_type\":\"");
            char name[40] = "";
            if (p) sscanf(p + 16, "%39[a-z_]", name);
            if (*name) lb_problem_type_parse(name, &model_problem);
        }
        lb_free(desc);
    }
    if (problem_type) {
        if (!lb_problem_type_parse(problem_type, &problem)) {
            st = cli_err(&err, LB_ERR_USAGE,
                         "--problem-type %s: expected single_label_classification, multi_label_classification or "
                         "regression",
                         problem_type);
            goto fail;
        }
    } else if (label_columns) problem = LB_PROBLEM_MULTI_LABEL;
    else problem = model_problem;
    if (problem != LB_PROBLEM_MULTI_LABEL && label_columns) {
        st = cli_err(&err, LB_ERR_USAGE, "--label-columns are for --problem-type multi_label_classification");
        goto fail;
    }
    lb_label_format lformat = LB_LABEL_FORMAT_AUTO;
    if (label_format && strcmp(label_format, "auto") && strcmp(label_format, "multi-hot")) {
        st = cli_err(&err, LB_ERR_USAGE, "--label-format %s: expected auto or multi-hot", label_format);
        goto fail;
    }
    if (label_format && (problem != LB_PROBLEM_MULTI_LABEL || label_columns)) {
        st = cli_err(&err, LB_ERR_USAGE,
                     "--label-format is for multi-label lists in --label-column (--problem-type "
                     "multi_label_classification without --label-columns)");
        goto fail;
    }
    if (label_format && !strcmp(label_format, "multi-hot")) lformat = LB_LABEL_FORMAT_MULTI_HOT;
    lb_dataset_options dop = {.split = train_file ? "train" : train_split,
                              .text_column = text_col,
                              .text_pair_column = pair_col,
                              .label_column = label_col,
                              .problem_type = problem,
                              .label_columns = label_columns,
                              .label_format = lformat};
    if ((st = lb_dataset_open(train_file ? train_file : dataset, &dop, &ds[0], &err))) goto fail;
    if (!no_eval) {
        dop.split = val_file ? "validation" : val_split;
        if ((st = lb_dataset_open(val_file ? val_file : dataset, &dop, &ds[1], &err))) goto fail;
    }
    /* data before the model: string labels decide the classes the head is built for. One class
     * set for train and validation: --labels given is exact; the default names give way to the
     * labels' sorted values, which the notice says. The run prints the "labels:" line. */
    bool labels_given = labels != default_labels, sorted = false;
    int nclasses = 0;
    bool model_labels = false; /* the model's (or --init-adapter's) own labels */
    if (problem == LB_PROBLEM_MULTI_LABEL && !labels_given && label_columns) { /* the label columns name the labels */
        cli_free_list(label_names);
        label_names = cli_split_list(label_columns, &nlabels);
    } else if (problem == LB_PROBLEM_MULTI_LABEL && !labels_given) {
        /* lists: the labels of a model that already is multi-label (or of --init-adapter), else
         * the training set's: its sorted names, class ids 0..max, or the multi-hot length */
        int K = 0;
        const lb_label_list kind = lb_dataset_label_list(ds[0], &K);
        cli_free_list(label_names);
        label_names = NULL;
        nlabels = 0;
        if (init_adapter || model_problem == LB_PROBLEM_MULTI_LABEL) model_labels = true;
        else if (K < 1) {
            st = cli_err(&err, LB_ERR_FORMAT,
                         "%s: every label list is empty: no labels to train (pass --labels A,B,.. to name them)",
                         lb_dataset_file(ds[0], 0));
            goto fail;
        } else if (kind == LB_LABEL_LIST_NAMES) {
            if (!(label_names = calloc((size_t)K + 1, sizeof *label_names))) {
                st = cli_err(&err, LB_ERR_NOMEM, "out of memory");
                goto fail;
            }
            for (int k = 0; k < K; k++)
                if (!(label_names[k] = strdup(lb_dataset_target_name(ds[0], k)))) {
                    st = cli_err(&err, LB_ERR_NOMEM, "out of memory");
                    goto fail;
                }
            nlabels = K;
        } else {
            nlabels = K;
            if (rank == 0)
                fprintf(stderr,
                        "lorabert: notice: the label lists of %s are %s: %d labels (%s), named by config.json's "
                        "id2label when it names %d, else LABEL_0..LABEL_%d (pass --labels A,B,.. to name them)\n",
                        lb_dataset_file(ds[0], 0), kind == LB_LABEL_LIST_IDS ? "class ids" : "multi-hot vectors", K,
                        kind == LB_LABEL_LIST_IDS ? "the largest id + 1" : "their length", K, K - 1);
        }
    } else if (problem == LB_PROBLEM_REGRESSION && !labels_given) { /* one output */
        nlabels = 1;
    }
    if (problem == LB_PROBLEM_SINGLE_LABEL &&
        (st = lb_dataset_classes((const lb_dataset *const *)ds, ds[1] ? 2 : 1, (const char *const *)label_names,
                                 nlabels, !labels_given, labels_given ? "--labels" : "the default --labels", &classes,
                                 &nclasses, &sorted, &err)))
        goto fail;
    if (sorted && rank == 0) {
        fprintf(stderr,
                "lorabert: notice: the label names of %s are not all among the default --labels (%s); the "
                "classes are their sorted values instead:",
                lb_dataset_file(ds[0], 0), default_labels);
        for (int i = 0; i < nclasses; i++) fprintf(stderr, " %d=%s", i, classes[i]);
        fprintf(stderr, " (pass --labels to choose names and order)\n");
    }
    /* --resume / --init-adapter: the model opens with that folder as its adapter */
    lb_model_options mo = {.adapter = resume ? resume : init_adapter,
                           .num_labels = classes ? nclasses : nlabels,
                           .labels = (const char *const *)(classes ? classes : label_names),
                           .seed = (uint64_t)seed,
                           .seed_set = true,
                           .problem_type = problem_type || problem ? lb_problem_type_name(problem) : NULL};
    if (problem == LB_PROBLEM_REGRESSION && !labels_given) mo.labels = NULL;
    if (model_labels) mo.labels = NULL, mo.num_labels = 0;
    if ((st = lb_model_open(model_dir, &mo, &m, &err))) goto fail;
    lb_model_info info;
    lb_model_get_info(m, &info);
    if (info.load_notice && rank == 0) fprintf(stderr, "%s\n", info.load_notice);
    /* before anything is tokenized or written: the first forward would fail on a long text */
    if (max_length_given && max_length > info.max_tokens) {
        st = cli_err(&err, LB_ERR_USAGE,
                     "--max-length %ld exceeds the model's %d positions (max_position_embeddings%s "
                     "in %s/config.json)",
                     max_length, info.max_tokens,
                     info.max_tokens != info.max_position_embeddings ? " - pad_token_id - 1" : "", info.model_dir);
        goto fail;
    }
    if (!mo.adapter && info.has_adapter) {
        st = cli_err(&err, LB_ERR_USAGE,
                     "--model %s is a PEFT adapter folder: give its base model as --model and "
                     "start from the adapter with --init-adapter %s",
                     model, model);
        goto fail;
    }
    /* the settings were checked above and the model holds no adapter: a usage error here is a
     * target module that is not a layer of this architecture (q_lin is DistilBERT's, query BERT's),
     * or a pattern's rank beyond the hidden size (said as the library says it) */
    if (!mo.adapter && (st = lb_model_add_adapter(m, &lora, &err))) {
        if (st == LB_ERR_USAGE && strstr(err.msg, "target module")) {
            char msg[sizeof err.msg];
            snprintf(msg, sizeof msg, "%s", err.msg);
            cli_err(&err, st, "--target-modules: %s", msg);
        }
        goto fail;
    }
    if ((st = lb_model_set_precision(m, prec, &err))) goto fail;
    to.num_train_epochs = (int)epochs;
    to.per_device_train_batch_size = (int)batch;
    to.per_device_eval_batch_size = (int)eval_batch;
    to.learning_rate = lr;
    to.weight_decay = wd;
    to.loraplus_lr_ratio = loraplus;
    to.warmup_steps = warmup;
    to.max_grad_norm = max_grad_norm;
    to.seed = (uint64_t)seed;
    to.logging_steps = logging;
    to.metric_for_best_model = best;
    to.max_length = (int)max_length;
    to.truncate_right = !left;
    to.base_model_name = model; /* adapter_config.json's base_model_name_or_path: as given */
    to.batch_order_file = batch_order;
    to.output = reserved;
    to.gradient_accumulation_steps = (int)accum;
    to.label_smoothing_factor = label_smoothing;
    to.threshold = threshold;
    to.class_weights = class_weights;
    to.collective = coll;
    /* issue 16 */
    to.lr_scheduler_type = lr_sched;
    to.warmup_ratio = warmup_ratio;
    to.report_to = report_to;
    to.logging_dir = logging_dir;
    to.greater_is_better = !greater ? 0 : !strcmp(greater, "true") ? 1 : -1;
    to.early_stopping_patience = (int)es_patience;
    to.early_stopping_threshold = es_threshold;
    to.save_total_limit = (int)save_limit;
    to.eval_strategy = no_eval ? NULL : eval_strategy;
    to.save_strategy = save_strategy;
    to.eval_steps = eval_steps;
    to.save_steps = save_steps;
    to.load_best_model_at_end = !strcmp(load_best, "true") ? 1 : -1;
    if (coll) {
        /* every rank trains on the same inputs: refused at start, naming what differs */
        cli_dist_item items[5];
        int ni = 0;
        uint64_t h = CLI_DIGEST_INIT;
        static const char *const model_files[] = {"config.json",    "model.safetensors",     "vocab.txt",
                                                  "tokenizer.json", "tokenizer_config.json", "special_tokens_map.json"};
        for (size_t i = 0; i < sizeof model_files / sizeof model_files[0]; i++) {
            char path[4096];
            snprintf(path, sizeof path, "%s/%s", info.model_dir, model_files[i]);
            h = cli_digest_file(h, path);
        }
        items[ni++] = (cli_dist_item){"model files (config.json, model.safetensors, tokenizer files)", h};
        h = CLI_DIGEST_INIT;
        if (info.adapter_dir) {
            char path[4096];
            snprintf(path, sizeof path, "%s/adapter_config.json", info.adapter_dir);
            h = cli_digest_file(h, path);
            snprintf(path, sizeof path, "%s/adapter_model.safetensors", info.adapter_dir);
            h = cli_digest_file(h, path);
        }
        items[ni++] = (cli_dist_item){"adapter files (--resume / --init-adapter)", h};
        for (int d = 0; d < 2; d++) {
            h = CLI_DIGEST_INIT;
            for (int i = 0; ds[d] && lb_dataset_file(ds[d], i); i++) h = cli_digest_file(h, lb_dataset_file(ds[d], i));
            items[ni++] = (cli_dist_item){d ? "validation data" : "training data", h};
        }
        /* the options that shape the run, as parsed */
        h = CLI_DIGEST_INIT;
        const double nums[] = {(double)epochs,
                               (double)batch,
                               (double)eval_batch,
                               lr,
                               wd,
                               (double)warmup,
                               max_grad_norm,
                               (double)lora_r,
                               alpha,
                               dropout,
                               (double)seed,
                               (double)max_length,
                               (double)accum,
                               (double)logging,
                               (double)left,
                               (double)rslora,
                               (double)prec,
                               (double)no_eval};
        h = cli_digest_bytes(h, nums, sizeof nums);
        const double nums16[] = {warmup_ratio, es_threshold, (double)es_patience, (double)save_limit,
                                 eval_steps,   save_steps,   label_smoothing,     loraplus}; /* issue 16 */
        h = cli_digest_bytes(h, nums16, sizeof nums16);
        if (dora) h = cli_digest_bytes(h, "use_dora", 9); /* only when set: older runs keep their digest */
        const char *const strs[] = {targets ? targets : "",
                                    labels,
                                    best,
                                    text_col,
                                    label_col,
                                    pair_col ? pair_col : "",
                                    lr_sched,
                                    greater ? greater : "",
                                    eval_strategy ? eval_strategy : "",
                                    save_strategy,
                                    load_best,
                                    class_weights ? class_weights : "",
                                    lora_init,
                                    rank_pattern ? rank_pattern : "",
                                    alpha_pattern ? alpha_pattern : "",
                                    mts ? mts : ""};

        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) h = cli_digest_bytes(h, strs[i], strlen(strs[i]) + 1);
        items[ni++] = (cli_dist_item){"training options", h};
        if ((st = cli_dist_check(items, ni, &err))) {
            quiet_fail = rank != 0; /* every rank found it; rank 0 says it */
            goto fail;
        }
        if (rank == 0)
            fprintf(stderr, "lorabert: %d processes: inputs identical on every rank (model, adapter, data, options)\n",
                    coll->size);
    }
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_signal;
    sa.sa_flags = SA_RESETHAND; /* a second signal ends the process at once */
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    cli_progress prog;
    cli_progress_init(&prog, stdout);
    lb_train_callbacks cb = cli_progress_callbacks(&prog, &stop_requested);
    if (rank != 0) cb.on_step = NULL, cb.on_epoch = NULL, cb.on_log = NULL, cb.on_evaluate = NULL; /* rank 0 reports */
    lb_train_result res;
    lb_train_run *run = NULL;
    st = lb_train_run_open(m, ds[0], ds[1], &to, &cb, &run, &err);
    if (!st) st = lb_train_run_all(run, &res, &err);
    lb_train_run_close(run);
    cli_progress_end(&prog);
    signal(SIGINT, SIG_DFL);
    signal(SIGTERM, SIG_DFL);
    if (st) goto fail;
    if (rank == 0) printf("train_loss %.6f, %.0f tokens/s, %.1f s\n", res.train_loss, res.tokens_per_s, res.runtime_s);
fail:
    if (st == LB_ERR_INTERRUPTED && rank != 0) quiet_fail = true; /* rank 0 says where to resume */
    rc = st ? (quiet_fail ? (int)st : cli_fail(&err)) : 0;
    lb_model_close(m);
    lb_train_output_close(reserved);
    lb_dataset_close(ds[0]);
    lb_dataset_close(ds[1]);
    lb_free(model_dir);
    lb_free_strings(classes);
    free(out_dir);
    lb_free(resume_found);
    cli_free_list(label_names);
    return rc;
}
