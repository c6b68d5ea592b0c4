/* `lorabert eval`: loss and metrics of a model (+ PEFT adapter) on a labelled file, as the HF
 * Trainer's evaluate() computes them (per-sample-weighted loss, argmax predictions). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/dist.h"
#include "cli/options.h"

/* Multi-label (subset accuracy, micro and macro averages, per label) and regression (MSE, MAE,
 * Pearson, Spearman) results, as one JSON object or a table. */
static void print_task_metrics(const lb_classifier *c, const lb_eval_result *r, bool json) {
    const int L = lb_classifier_num_labels(c);
    if (r->problem_type == LB_PROBLEM_REGRESSION) {
        if (json)
            printf("{\"problem_type\": \"regression\", \"n_examples\": %lld, \"loss\": %.9g, \"mse\": %.9g, "
                   "\"mae\": %.9g, \"pearson\": %.9g, \"spearman\": %.9g}\n",
                   (long long)r->metrics.n, r->loss, r->mse, r->mae, r->pearson, r->spearman);
        else
            printf("%-12s %lld\n%-12s %.6f\n%-12s %.6f\n%-12s %.6f\n%-12s %.6f\n%-12s %.6f\n", "examples",
                   (long long)r->metrics.n, "loss (mse)", r->loss, "mse", r->mse, "mae", r->mae, "pearson", r->pearson,
                   "spearman", r->spearman);
        return;
    }
    if (json) {
        printf("{\"problem_type\": \"multi_label_classification\", \"n_examples\": %lld, \"loss\": %.9g, "
               "\"threshold\": %.9g, \"accuracy\": %.9g, \"precision\": %.9g, \"recall\": %.9g, \"f1\": %.9g, "
               "\"macro_precision\": %.9g, \"macro_recall\": %.9g, \"macro_f1\": %.9g, \"per_label\": [",
               (long long)r->metrics.n, r->loss, r->threshold, r->metrics.accuracy, r->metrics.precision,
               r->metrics.recall, r->metrics.f1, r->macro_precision, r->macro_recall, r->macro_f1);
        for (int i = 0; i < L; i++) {
            printf("%s{\"label\": ", i ? ", " : "");
            cli_put_json_string(stdout, lb_classifier_label(c, i));
            printf(", \"precision\": %.9g, \"recall\": %.9g, \"f1\": %.9g, \"support\": %lld}",
                   r->metrics.class_precision[i], r->metrics.class_recall[i], r->metrics.class_f1[i],
                   (long long)r->support[i]);
        }
        printf("]}\n");
        return;
    }
    printf("%-16s %lld\n%-16s %.6f\n%-16s %.6f\n%-16s %.6f\n%-16s %.6f\n%-16s %.6f\n%-16s %.6f\n", "examples",
           (long long)r->metrics.n, "loss (bce)", r->loss, "accuracy*", r->metrics.accuracy, "precision (micro)",
           r->metrics.precision, "recall (micro)", r->metrics.recall, "f1 (micro)", r->metrics.f1, "f1 (macro)",
           r->macro_f1);
    printf("(* subset accuracy: every label of a text right; threshold %g on the sigmoid)\n%-14s %9s %9s %9s %8s\n",
           r->threshold, "label", "precision", "recall", "f1", "support");
    for (int i = 0; i < L; i++)
        printf("  %-12.12s %9.6f %9.6f %9.6f %8lld\n", lb_classifier_label(c, i), r->metrics.class_precision[i],
               r->metrics.class_recall[i], r->metrics.class_f1[i], (long long)r->support[i]);
}

static const char usage[] =
    "usage: lorabert eval --model ID|DIR [--adapter DIR] (--data FILE | --dataset ID|DIR [--split NAME]) [options]\n\n"
    "Evaluates a classifier on a labelled file (csv/tsv/jsonl/json/parquet): loss, accuracy,\n"
    "precision, recall, F1 (binary: positive label 1; more labels: macro averages plus per-class\n"
    "values) and the confusion matrix. Labels are class ids (0, 1, ...: canonical decimal integers) below\n"
    "the model's number of labels, or label names that must each be one of the adapter's labels.json\n"
    "(else the model's id2label) names; anything else is an error (exit 4). --model may name a PEFT\n"
    "adapter folder: its base_model_name_or_path is opened with it.\n";

int cmd_eval(int argc, char **argv) {
    const char *model = NULL, *adapter = NULL, *data = NULL, *text_col = "text", *label_col = "label",
               *truncation = "left", *pair_col = NULL, *dataset = NULL, *split = "validation", *precision = "fp32";
    long max_length = 0, batch = 8, threads = 0;
    bool json = false;
    /* issue 16: multi-label and regression models */
    const char *label_columns = NULL, *label_format = NULL;
    double threshold = 0.5;
    static const char default_label_col[] = "label";
    label_col = default_label_col; /* given explicitly: a multi-label model reads its lists */
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model, "ID|DIR", "base model (hub repo id or local folder)", 0, 0},
        {"--adapter", OPT_STR, &adapter, "DIR|ID", "PEFT adapter folder (lorabert's or PEFT's)", 0, 0},
        {"--data", OPT_STR, &data, "FILE", "labelled file", 0, 0},
        {"--dataset", OPT_STR, &dataset, "ID|DIR", "hub dataset id or HF dataset folder (instead of --data)", 0, 0},
        {"--split", OPT_STR, &split, "NAME", "split of --dataset", 0, 0},
        {"--text-column", OPT_STR, &text_col, "NAME", "text column", 0, 0},
        {"--text-pair-column", OPT_STR, &pair_col, "NAME", "second text of sentence-pair tasks", 0, 0},
        {"--label-column", OPT_STR, &label_col, "NAME", "label column", 0, 0},
        {"--max-length", OPT_INT, &max_length, "N",
         "tokens per example incl. [CLS]/[SEP] (0: the model's limit, 512 for DistilBERT)", 0, 1e6},
        {"--truncation", OPT_STR, &truncation, "left|right", "which end of long texts is cut", 0, 0},
        {"--batch-size", OPT_INT, &batch, "N", "evaluation batch size", 1, 65536},
        {"--threads", OPT_INT, &threads, "N", "CPU threads (0: all)", 0, 4096},
        {"--precision", OPT_STR, &precision, "fp32|bf16|int8",
         "fp32 (exact), bf16 frozen linears (faster) or int8 (per-channel int8 weights, per-row int8 inputs, int32 "
         "sums: fastest)",
         0, 0},
        {"--json", OPT_FLAG, &json, NULL, "print one JSON object instead of a table", 0, 0},
        {"--label-columns", OPT_STR, &label_columns, "A,B,..",
         "multi-label models: the 0/1 columns of the labels, matched to the model's labels by name (default: the model's label names)",
         0, 0},
        {"--label-format", OPT_STR, &label_format, "auto|multi-hot",
         "multi-label models reading lists from --label-column: auto (strings are label names, integers class ids, floats/booleans 0/1 vectors) or multi-hot (every list a 0/1 vector in the model's label order)",
         0, 0},
        {"--threshold", OPT_F64, &threshold, "P",
         "multi-label models: a label is predicted when its sigmoid is >= P (metrics per label, micro and macro F1; accuracy is the subset accuracy)",
         1e-9, 0.999999},
    };
    bool help;
    int rc = cli_parse("eval", usage, opts, (int)(sizeof opts / sizeof opts[0]), argc, argv, &help);
    if (rc || help) return rc;
    if (!model) return cli_usage_error("eval", "--model is required");
    if (!data == !dataset) return cli_usage_error("eval", "give one of --data FILE or --dataset ID|DIR");
    bool left = !strcmp(truncation, "left");
    if (!left && strcmp(truncation, "right")) return cli_usage_error("eval", "--truncation must be left or right");
    lb_precision prec;
    if (!lb_precision_parse(precision, &prec)) return cli_usage_error("eval", "--precision must be fp32, bf16 or int8");
    if (max_length == 1 || max_length == 2)
        return cli_usage_error("eval", "--max-length must leave room for [CLS], [SEP] and a token (>= 3)");
    lb_error err = {0};
    lb_classifier *c = NULL;
    lb_dataset *ds = NULL;
    lb_classifier_options co = {.model = {.adapter = adapter, .precision = prec},
                                .max_length = (int)max_length,
                                .truncate_left = left,
                                .threads = (int)threads};
    lb_dataset_options dop = {
        .split = split, .text_column = text_col, .text_pair_column = pair_col, .label_column = label_col};
    lb_eval_options eo = {.batch_size = (int)batch, .threshold = threshold};
    char lcols[4096] = "";
    /* under mpirun: each process reads its shard (every size-th block of --batch-size rows) and
     * the metrics are gathered in batch order, identical to one process's */
    const lb_collective *coll = cli_dist_collective();
    const int rank = cli_dist_rank();
    bool quiet_fail = false;
    if (coll) {
        dop.shard_count = coll->size, dop.shard_index = coll->rank, dop.shard_block = (int)batch;
        eo.collective = coll;
    }
    lb_eval_result r;
    lb_status st = lb_classifier_open(model, &co, &c, &err);
    lb_problem_type problem = LB_PROBLEM_SINGLE_LABEL;
    if (!st) { /* the model's problem type says how the data is read */
        lb_model_info mi;
        lb_model_get_info(lb_classifier_model(c), &mi);
        lb_problem_type_parse(mi.problem_type, &problem);
        dop.problem_type = problem;
        if (problem == LB_PROBLEM_MULTI_LABEL && !label_columns) /* the model's label names */
            for (int k = 0, used = 0; k < mi.num_labels && used < (int)sizeof lcols; k++)
                used += snprintf(lcols + used, sizeof lcols - (size_t)used, "%s%s", k ? "," : "", mi.labels[k]);
        /* a multi-label model reads lists from --label-column when it (or --label-format) is given */
        const bool lists =
            problem == LB_PROBLEM_MULTI_LABEL && !label_columns && (label_col != default_label_col || label_format);
        dop.label_columns =
            problem == LB_PROBLEM_MULTI_LABEL && !lists ? (label_columns ? label_columns : lcols) : NULL;
        if (label_columns && problem != LB_PROBLEM_MULTI_LABEL)
            st = cli_err(&err, LB_ERR_USAGE, "--label-columns: the model's problem_type is %s, not multi-label",
                         mi.problem_type);
        else if (label_format && strcmp(label_format, "auto") && strcmp(label_format, "multi-hot"))
            st = cli_err(&err, LB_ERR_USAGE, "--label-format %s: expected auto or multi-hot", label_format);
        else if (label_format && !lists)
            st = cli_err(&err, LB_ERR_USAGE,
                         "--label-format is for a multi-label model reading lists from --label-column (the model's "
                         "problem_type is %s%s)",
                         mi.problem_type, label_columns ? "; --label-columns given" : "");
        else if (label_format && !strcmp(label_format, "multi-hot")) dop.label_format = LB_LABEL_FORMAT_MULTI_HOT;
    }
    if (!st) st = lb_dataset_open(data ? data : dataset, &dop, &ds, &err);
    if (!st && coll) {
        lb_model_info info;
        lb_model_get_info(lb_classifier_model(c), &info);
        const double nums[] = {(double)batch, (double)max_length, (double)left, (double)prec};
        uint64_t h = cli_digest_bytes(CLI_DIGEST_INIT, nums, sizeof nums);
        const char *const strs[] = {text_col, label_col, pair_col ? pair_col : "", split ? split : ""};
        for (size_t i = 0; i < sizeof strs / sizeof strs[0]; i++) h = cli_digest_bytes(h, strs[i], strlen(strs[i]) + 1);
        cli_dist_item items[] = {{"model and adapter files", cli_digest_model(info.model_dir, info.adapter_dir)},
                                 {"evaluation data", cli_digest_dataset(ds)},
                                 {"evaluation options", h}};
        if ((st = cli_dist_check(items, 3, &err))) quiet_fail = rank != 0;
    }
    if (!st) st = lb_evaluate_dataset(c, ds, &eo, &r, &err);
    if (st || rank != 0) goto out; /* rank 0 reports */
    /* string labels were mapped onto the model's classes by name: say which */
    if (lb_dataset_label_name(ds, 0) && !json) {
        printf("labels:");
        for (int k = 0; k < lb_classifier_num_labels(c); k++) printf(" %d=%s", k, lb_classifier_label(c, k));
        printf("\n");
    }
    const int L = lb_classifier_num_labels(c);
    if (problem != LB_PROBLEM_SINGLE_LABEL) {
        print_task_metrics(c, &r, json);
        goto out;
    }
    if (json) {
        printf("{\"n_examples\": %lld, \"loss\": %.9g, \"accuracy\": %.9g, \"precision\": %.9g, \"recall\": %.9g, "
               "\"f1\": %.9g, \"confusion_matrix\": [",
               (long long)r.metrics.n, r.loss, r.metrics.accuracy, r.metrics.precision, r.metrics.recall, r.metrics.f1);
        for (int i = 0; i < L; i++) {
            printf("%s[", i ? ", " : "");
            for (int j = 0; j < L; j++) printf("%s%lld", j ? ", " : "", (long long)r.metrics.confusion[i * L + j]);
            printf("]");
        }
        printf("]");
        if (L > 2) { /* macro averages above; the per-class values they average */
            printf(", \"per_class\": [");
            for (int i = 0; i < L; i++)
                printf("%s{\"label\": %d, \"precision\": %.9g, \"recall\": %.9g, \"f1\": %.9g}", i ? ", " : "", i,
                       r.metrics.class_precision[i], r.metrics.class_recall[i], r.metrics.class_f1[i]);
            printf("]");
        }
        printf("}\n");
    } else {
        printf("%-12s %lld\n%-12s %.6f\n%-12s %.6f\n%-12s %.6f\n%-12s %.6f\n%-12s %.6f\n", "examples",
               (long long)r.metrics.n, "loss", r.loss, "accuracy", r.metrics.accuracy,
               L == 2 ? "precision" : "precision*", r.metrics.precision, L == 2 ? "recall" : "recall*",
               r.metrics.recall, L == 2 ? "f1" : "f1*", r.metrics.f1);
        if (L != 2) {
            printf("(* macro averages over %d labels)\n%-14s %9s %9s %9s\n", L, "label", "precision", "recall", "f1");
            for (int i = 0; i < L; i++)
                printf("  %-12.12s %9.6f %9.6f %9.6f\n", lb_classifier_label(c, i), r.metrics.class_precision[i],
                       r.metrics.class_recall[i], r.metrics.class_f1[i]);
        }
        printf("confusion matrix (rows: true, columns: predicted)\n");
        for (int i = 0; i < L; i++) {
            const char *nm = lb_classifier_label(c, i);
            printf("  %-12.12s", nm);
            for (int j = 0; j < L; j++) printf(" %8lld", (long long)r.metrics.confusion[i * L + j]);
            printf("\n");
        }
    }
out:
    rc = st ? (quiet_fail ? (int)st : cli_fail(&err)) : 0;
    lb_dataset_close(ds);
    lb_classifier_close(c);
    return rc;
}
