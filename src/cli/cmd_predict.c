/* `lorabert predict`: labels texts with a classifier (+ an optional PEFT LoRA adapter), in eval
 * mode, batching texts of similar length together so padding costs little. Prints one JSON
 * line per text, or an aligned table on a terminal.
 *
 * stdin is streamed: lines are read as they come (poll, no stdio buffering), a batch is run
 * when it is full or when no more input is waiting, and its lines are printed and flushed at
 * once, so `tail -f log | lorabert predict` answers each line while stdin stays open. A blank
 * line is the empty text (it tokenizes to [CLS] [SEP], as in transformers), so the output
 * keeps one line per input line. */
#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "cli/cli.h"
#include "cli/dist.h"
#include "cli/options.h"

#define PREDICT_DEFAULT_BATCH 32
/* One stdin line may hold at most this many bytes (the tokenizer keeps --max-length tokens). */
#define PREDICT_MAX_LINE_BYTES ((size_t)16 << 20)

static const char predict_usage[] =
    "usage: lorabert predict --model DIR|ID [--adapter DIR|ID] [options] [TEXT...]\n\n"
    "Labels each TEXT (or, with none given, each line of stdin) with the classifier, in eval\n"
    "mode. Prints one JSON line per text:\n"
    "  {\"index\":0,\"label\":\"Positive\",\"score\":0.97,\"probs\":[...],\"logits\":[...]}\n"
    "or an aligned table when stdout is a terminal. A multi-label model (config.json problem_type\n"
    "multi_label_classification) gives each label's sigmoid as probs and lists in \"labels\" those\n"
    ">= --threshold (label and score are the highest one's). A regression model (problem_type\n"
    "regression, or one output and no problem_type: HF's rule) prints the outputs themselves as\n"
    "\"values\" (score: the largest). stdin is streamed: each batch is printed\n"
    "as soon as it is full or no more input is waiting; a blank line is the empty text.\n"
    "--model may name a PEFT adapter folder (adapter_config.json): its base_model_name_or_path is\n"
    "opened with it. Labels: --labels, else the adapter's labels.json, else config.json's id2label.\n"
    "Tokenizer: the adapter's files when it carries them, else the model's.\n"
    "--input FILE (csv/tsv/jsonl/json/parquet, column --text-column) labels a file's rows and writes\n"
    "the JSON lines, in input order, to --output FILE (whole or not at all). Under mpirun -np N each\n"
    "process reads only every N-th block of --batch-size rows; rank 0 writes the lines, identical to\n"
    "one process's (docs/distributed.md).\n";

static const char predict_epilog[] =
    "Exit status: 0 ok, 2 usage (incl. an empty TEXT), 3 I/O, 4 bad input or model files,\n"
    "8 non-finite logits.\n";

/* %.9g (float32 round-trips), null where JSON has no number. */
static void put_json_float(FILE *out, double x) {
    if (isfinite(x)) fprintf(out, "%.9g", x);
    else fputs("null", out);
}

/* The texts: arguments, or stdin lines (without their line ends). */
typedef struct text_list {
    char **text;
    size_t *len;
    size_t n, cap;
    bool owned;
} text_list;

static lb_status texts_push(text_list *t, char *s, size_t len, lb_error *err) {
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 64;
        char **nt = realloc(t->text, cap * sizeof *nt);
        if (!nt) return cli_err(err, LB_ERR_NOMEM, "out of memory");
        t->text = nt;
        size_t *nl = realloc(t->len, cap * sizeof *nl);
        if (!nl) return cli_err(err, LB_ERR_NOMEM, "out of memory");
        t->len = nl;
        t->cap = cap;
    }
    t->text[t->n] = s;
    t->len[t->n++] = len;
    return LB_OK;
}

/* stdin as lines, read with read(2) so that poll(2) tells whether more input is waiting
 * (stdio would hide buffered bytes from poll). */
typedef struct line_reader {
    char *buf;
    size_t len, cap, start;
    bool eof;
    size_t lineno;
} line_reader;

/* The next line (malloc'd, without its line end) into *s, *n: 1. 0: none (at EOF, or, when
 * !block, no complete line and nothing waiting on stdin). -1: error in *err. */
static int next_line(line_reader *r, bool block, char **s, size_t *n, lb_error *err) {
    for (;;) {
        /* buf is NULL until the first read: memchr must not see it (even with length 0). */
        char *nl = r->len > r->start ? memchr(r->buf + r->start, '\n', r->len - r->start) : NULL;
        size_t end = nl ? (size_t)(nl - r->buf) : r->len;
        if (nl || (r->eof && r->len > r->start)) {
            size_t k = end - r->start;
            if (k && r->buf[r->start + k - 1] == '\r') k--;
            r->lineno++;
            if (memchr(r->buf + r->start, '\0', k)) {
                cli_err(err, LB_ERR_FORMAT, "stdin line %zu: NUL byte in text", r->lineno);
                return -1;
            }
            char *t = malloc(k + 1);
            if (!t) {
                cli_err(err, LB_ERR_NOMEM, "out of memory");
                return -1;
            }
            memcpy(t, r->buf + r->start, k);
            t[k] = '\0';
            r->start = nl ? end + 1 : r->len;
            *s = t;
            *n = k;
            return 1;
        }
        if (r->eof) return 0;
        if (r->len - r->start > PREDICT_MAX_LINE_BYTES) {
            cli_err(err, LB_ERR_UNSUPPORTED, "stdin line %zu: longer than the %zu MiB limit for one text",
                    r->lineno + 1, PREDICT_MAX_LINE_BYTES >> 20);
            return -1;
        }
        if (!block) {
            struct pollfd pf = {.fd = STDIN_FILENO, .events = POLLIN};
            int k = poll(&pf, 1, 0);
            if (k < 0 && errno == EINTR) continue;
            if (k == 0) return 0;
        }
        if (r->start) {
            memmove(r->buf, r->buf + r->start, r->len - r->start);
            r->len -= r->start;
            r->start = 0;
        }
        if (r->cap - r->len < 4096) {
            size_t cap = r->cap ? 2 * r->cap : 65536;
            char *nb = realloc(r->buf, cap);
            if (!nb) {
                cli_err(err, LB_ERR_NOMEM, "out of memory");
                return -1;
            }
            r->buf = nb;
            r->cap = cap;
        }
        ssize_t got = read(STDIN_FILENO, r->buf + r->len, r->cap - r->len);
        if (got < 0 && errno == EINTR) continue;
        if (got < 0) {
            cli_err(err, LB_ERR_IO, "stdin: read failed: %s", strerror(errno));
            return -1;
        }
        if (got == 0) r->eof = true;
        else r->len += (size_t)got;
    }
}

/* Prints s clipped to `width` bytes without splitting a UTF-8 sequence, tabs/newlines as spaces. */
static void put_clipped(FILE *out, const char *s, size_t len, size_t width) {
    size_t n = len;
    bool clipped = false;
    if (n > width) {
        n = width - 3;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80) n--;
        clipped = true;
    }
    for (size_t i = 0; i < n; i++) putc((unsigned char)s[i] < 0x20 ? ' ' : s[i], out);
    if (clipped) fputs("...", out);
}

/* What every chunk of texts needs. */
typedef struct predict_ctx {
    lb_classifier *c;
    int num_labels;
    bool table;
    size_t label_w;
    bool multi;       /* a multi_label_classification model: probs are sigmoids */
    bool regression;  /* a regression model: "values" (the outputs themselves) instead of "probs" */
    double threshold; /* multi: the labels whose probability is >= this are listed */
} predict_ctx;

/* {"index":i,"label":...,"score":...,"probs":[...],"logits":[...]} and a newline; a multi-label
 * model's line also lists "labels":[...], every label whose sigmoid is >= the threshold. */
static void put_json_line(FILE *out, size_t index, const predict_ctx *pc, const double *p, const float *z, int label) {
    const int L = pc->num_labels;
    fprintf(out, "{\"index\":%zu,\"label\":", index);
    cli_put_json_string(out, lb_classifier_label(pc->c, label));
    if (pc->multi) {
        fputs(",\"labels\":[", out);
        for (int k = 0, n = 0; k < L; k++)
            if (p[k] >= pc->threshold) {
                if (n++) putc(',', out);
                cli_put_json_string(out, lb_classifier_label(pc->c, k));
            }
        putc(']', out);
    }
    fputs(",\"score\":", out);
    put_json_float(out, p[label]);
    fputs(pc->regression ? ",\"values\":[" : ",\"probs\":[", out);
    for (int k = 0; k < L; k++) {
        if (k) putc(',', out);
        put_json_float(out, p[k]);
    }
    fputs("],\"logits\":[", out);
    for (int k = 0; k < L; k++) {
        if (k) putc(',', out);
        put_json_float(out, z[k]);
    }
    fputs("]}\n", out);
}

/* Classifies and prints texts (indices base, base+1, ...) in input order, then flushes. */
static lb_status predict_chunk(const predict_ctx *pc, const text_list *texts, size_t base, lb_error *err) {
    const int L = pc->num_labels;
    const size_t n = texts->n;
    int32_t *label = malloc(n * sizeof *label);
    double *probs = malloc(n * (size_t)L * sizeof *probs);
    float *logits = malloc(n * (size_t)L * sizeof *logits);
    lb_status st = LB_OK;
    if (!label || !probs || !logits) st = cli_err(err, LB_ERR_NOMEM, "out of memory");
    if (!st && (st = lb_classify(pc->c, (const char *const *)texts->text, texts->len, NULL, NULL, n, label, probs,
                                 logits, err))) {
        /* the library counts texts from 0 in each call: name the input's index */
        unsigned long long k;
        const char *colon = strchr(err->msg, ':');
        if (base && colon && sscanf(err->msg, "text %llu:", &k) == 1) {
            char msg[LB_ERROR_MSG_MAX];
            memcpy(msg, err->msg, sizeof msg);
            snprintf(err->msg, sizeof err->msg, "text %llu%.*s", k + base, (int)(sizeof msg - 32),
                     msg + (colon - err->msg));
        }
    }
    for (size_t i = 0; !st && i < n; i++) {
        const char *name = lb_classifier_label(pc->c, label[i]);
        const double *p = probs + i * (size_t)L;
        const float *z = logits + i * (size_t)L;
        if (pc->table) {
            printf("%5zu  %-*s  %8.4f  ", base + i, (int)pc->label_w, name, p[label[i]]);
            put_clipped(stdout, texts->text[i], texts->len[i], 60);
            putchar('\n');
            continue;
        }
        put_json_line(stdout, base + i, pc, p, z, label[i]);
    }
    if (!st && fflush(stdout) != 0) st = cli_err(err, LB_ERR_IO, "stdout: write failed: %s", strerror(errno));
    free(label);
    free(probs);
    free(logits);
    return st;
}

/* One block of the input (rows first..first+n of ds, global index g0 of the first) as JSON lines
 * into a malloc'd buffer. */
static lb_status predict_block(const predict_ctx *pc, const lb_dataset *ds, size_t first, size_t n, size_t g0,
                               char **buf, size_t *len, lb_error *err) {
    const int L = pc->num_labels;
    const char **t = malloc(n * sizeof *t), **pr = malloc(n * sizeof *pr);
    int32_t *label = malloc(n * sizeof *label);
    double *probs = malloc(n * (size_t)L * sizeof *probs);
    float *logits = malloc(n * (size_t)L * sizeof *logits);
    FILE *f = NULL;
    *buf = NULL;
    *len = 0;
    lb_status st = LB_OK;
    if (!t || !pr || !label || !probs || !logits || !(f = open_memstream(buf, len)))
        st = cli_err(err, LB_ERR_NOMEM, "out of memory");
    bool pairs = false;
    for (size_t i = 0; !st && i < n; i++) {
        t[i] = lb_dataset_text(ds, first + i);
        pr[i] = lb_dataset_text_pair(ds, first + i);
        pairs |= pr[i] != NULL;
    }
    if (!st && (st = lb_classify(pc->c, t, NULL, pairs ? pr : NULL, NULL, n, label, probs, logits, err)))
        cli_err(err, st, "row %zu..%zu: %.900s", g0, g0 + n - 1, err->msg);
    for (size_t i = 0; !st && i < n; i++)
        put_json_line(f, g0 + i, pc, probs + i * (size_t)L, logits + i * (size_t)L, label[i]);
    if (f && fclose(f) && !st) st = cli_err(err, LB_ERR_NOMEM, "out of memory");
    if (st) {
        free(*buf);
        *buf = NULL;
    }
    free(t);
    free(pr);
    free(label);
    free(probs);
    free(logits);
    return st;
}

/* --input FILE --output FILE: blocks of `batch` rows, block g on process g % P (one process:
 * all); each round every process labels its next block, rank 0 gathers them and writes them in
 * input order to OUTPUT.tmp, renamed to OUTPUT at the end. */
static lb_status predict_file(const predict_ctx *pc, const char *input, const char *text_col, const char *pair_col,
                              const char *output, int batch, lb_error *err) {
    const lb_collective *coll = cli_dist_collective();
    const int P = coll ? coll->size : 1, rank = coll ? coll->rank : 0;
    lb_dataset_options dop = {.text_column = text_col, .text_pair_column = pair_col, .labels_optional = true};
    if (P > 1) dop.shard_count = P, dop.shard_index = rank, dop.shard_block = batch;
    lb_dataset *ds = NULL;
    lb_status st = lb_dataset_open(input, &dop, &ds, err);
    if (st) return st;
    const size_t n = lb_dataset_size(ds);
    int64_t rounds = (int64_t)((n + (size_t)batch - 1) / (size_t)batch);
    char *tmp = NULL;
    FILE *out = NULL;
    int64_t *sizes = NULL;
    char *all = NULL, *mine = NULL;
    if (P > 1) {
        lb_model_info info;
        lb_model_get_info(lb_classifier_model(pc->c), &info);
        cli_dist_item items[] = {{"model and adapter files", cli_digest_model(info.model_dir, info.adapter_dir)},
                                 {"input data", cli_digest_dataset(ds)},
                                 {"options", cli_digest_bytes(CLI_DIGEST_INIT, &batch, sizeof batch)}};
        if ((st = cli_dist_check(items, 3, err))) goto done;
        int64_t *r = malloc(sizeof *r * (size_t)P);
        if (!r || (st = coll->allgather(coll->user, &rounds, sizeof rounds, r, err))) {
            if (!r) st = cli_err(err, LB_ERR_NOMEM, "out of memory");
            free(r);
            goto done;
        }
        for (int q = 0; q < P; q++)
            if (r[q] > rounds) rounds = r[q];
        free(r);
        if (!(sizes = malloc(sizeof *sizes * (size_t)P))) {
            st = cli_err(err, LB_ERR_NOMEM, "out of memory");
            goto done;
        }
    }
    if (rank == 0) {
        size_t tl = strlen(output) + 8;
        if (!(tmp = malloc(tl))) {
            st = cli_err(err, LB_ERR_NOMEM, "out of memory");
            goto done;
        }
        snprintf(tmp, tl, "%s.tmp", output);
        if (!(out = fopen(tmp, "w"))) {
            st = cli_err(err, LB_ERR_IO, "%s: cannot write: %s", tmp, strerror(errno));
            goto done;
        }
    }
    for (int64_t k = 0; k < rounds; k++) {
        size_t first = (size_t)k * (size_t)batch, len = 0;
        size_t cnt = first < n ? (n - first < (size_t)batch ? n - first : (size_t)batch) : 0;
        size_t g0 = ((size_t)k * (size_t)P + (size_t)rank) * (size_t)batch; /* the block's first row */
        free(mine);
        mine = NULL;
        if (cnt && (st = predict_block(pc, ds, first, cnt, g0, &mine, &len, err))) goto done;
        if (P == 1) {
            if (len && fwrite(mine, 1, len, out) != len) st = cli_err(err, LB_ERR_IO, "%s: write failed", tmp);
            if (st) goto done;
            continue;
        }
        int64_t my = (int64_t)len, most = 0;
        if ((st = coll->allgather(coll->user, &my, sizeof my, sizes, err))) goto done;
        for (int q = 0; q < P; q++)
            if (sizes[q] > most) most = sizes[q];
        char *send = calloc(1, (size_t)most + 1);
        free(all);
        all = malloc(((size_t)most + 1) * (size_t)P);
        if (!send || !all) {
            free(send);
            st = cli_err(err, LB_ERR_NOMEM, "out of memory");
            goto done;
        }
        if (len) memcpy(send, mine, len);
        st = coll->allgather(coll->user, send, (size_t)most + 1, all, err);
        free(send);
        if (st) goto done;
        for (int q = 0; out && q < P; q++)
            if (sizes[q] &&
                fwrite(all + (size_t)q * ((size_t)most + 1), 1, (size_t)sizes[q], out) != (size_t)sizes[q]) {
                st = cli_err(err, LB_ERR_IO, "%s: write failed", tmp);
                goto done;
            }
    }
    if (out) {
        int bad = fflush(out) || fsync(fileno(out));
        bad |= fclose(out);
        out = NULL;
        if (bad || rename(tmp, output)) st = cli_err(err, LB_ERR_IO, "%s: cannot write: %s", output, strerror(errno));
    }
done:
    if (out) {
        fclose(out);
        remove(tmp);
    }
    free(tmp);
    free(sizes);
    free(all);
    free(mine);
    lb_dataset_close(ds);
    return st;
}

int cmd_predict(int argc, char **argv) {
    const char *model_arg = NULL, *adapter_arg = NULL, *labels_arg = NULL, *truncation = "right",
               *precision_arg = "fp32", *input = NULL, *output = NULL, *text_col = "text", *pair_col = NULL;
    char *labels_buf = NULL, **labels = NULL;
    int n_labels = 0;
    long max_length = 0, batch_size = PREDICT_DEFAULT_BATCH, threads = 0;
    double threshold = 0.5;
    bool truncate_left = false, force_json = false, force_table = false;
    lb_precision precision = LB_PRECISION_FP32;
    text_list texts = {0};
    char **args = NULL;
    int nargs = 0;
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model_arg, "DIR|ID", "model folder, PEFT adapter folder or hub repo id", 0, 0},
        {"--adapter", OPT_STR, &adapter_arg, "DIR|ID",
         "PEFT LoRA adapter folder (adapter_config.json + adapter_model.safetensors)", 0, 0},
        {"--max-length", OPT_INT, &max_length, "N", "truncate to N tokens incl. [CLS]/[SEP] (0: the model's limit)", 0,
         1000000},
        {"--truncation", OPT_STR, &truncation, "SIDE", "right (keep the start) or left (keep the end)", 0, 0},
        {"--batch-size", OPT_INT, &batch_size, "N", "texts per forward pass", 1, 1000000},
        {"--labels", OPT_STR, &labels_arg, "A,B,...", "label names by id (default: the adapter's, else config.json's)",
         0, 0},
        {"--precision", OPT_STR, &precision_arg, "fp32|bf16|int8",
         "fp32 (exact), bf16 (frozen linears in bf16: faster) or int8 (frozen linears in int8: fastest)", 0, 0},
        {"--threads", OPT_INT, &threads, "N", "CPU threads (0: all)", 0, 4096},
        {"--threshold", OPT_F64, &threshold, "P",
         "multi-label models (config.json problem_type multi_label_classification): each line's \"labels\" lists the labels whose sigmoid probability is >= P",
         0, 1},
        {"--json", OPT_FLAG, &force_json, NULL, "JSON lines even on a terminal", 0, 0},
        {"--table", OPT_FLAG, &force_table, NULL, "an aligned table even when piped", 0, 0},
        {"--input", OPT_STR, &input, "FILE", "label the rows of this file (csv/tsv/jsonl/json/parquet)", 0, 0},
        {"--output", OPT_STR, &output, "FILE", "with --input: where the JSON lines go (input order)", 0, 0},
        {"--text-column", OPT_STR, &text_col, "NAME", "with --input: the text column", 0, 0},
        {"--text-pair-column", OPT_STR, &pair_col, "NAME", "with --input: the second text of pairs", 0, 0},
    };
    const cli_command cmd = {.name = "predict",
                             .usage = predict_usage,
                             .opts = opts,
                             .nopts = (int)(sizeof opts / sizeof opts[0]),
                             .positional = "TEXT",
                             .epilog = predict_epilog};
    bool help = false;
    int rc = cli_parse_command(&cmd, argc, argv, &args, &nargs, &help);
    if (rc || help) goto out;
    for (int i = 0; i < nargs; i++) {
        if (!*args[i]) {
            rc = cli_usage_error("predict", "TEXT %d is empty", i);
            goto out;
        }
        lb_error e;
        if (texts_push(&texts, args[i], strlen(args[i]), &e)) {
            rc = cli_fail(&e);
            goto out;
        }
    }
    if (!input != !output || (input && nargs)) {
        rc = cli_usage_error("predict", "--input and --output go together, without TEXT arguments");
        goto out;
    }
    if (!input && cli_dist_collective()) {
        rc = cli_usage_error("predict", "under mpirun, give --input FILE --output FILE");
        goto out;
    }
    if (max_length == 1) {
        rc = cli_usage_error("predict", "--max-length must leave room for [CLS] and [SEP] (>= 2)");
        goto out;
    }
    if (!strcmp(truncation, "left")) truncate_left = true;
    else if (strcmp(truncation, "right")) {
        rc = cli_usage_error("predict", "--truncation must be left or right, got '%s'", truncation);
        goto out;
    }
    if (!lb_precision_parse(precision_arg, &precision)) {
        rc = cli_usage_error("predict", "--precision must be fp32, bf16 or int8, got '%s'", precision_arg);
        goto out;
    }
    if (!model_arg) {
        rc = cli_usage_error("predict", "--model DIR|ID is required");
        goto out;
    }
    if (force_json && force_table) {
        rc = cli_usage_error("predict", "--json and --table exclude each other");
        goto out;
    }
    if (labels_arg) {
        /* "a,b,c" -> {"a","b","c"}: split a private copy in place */
        labels_buf = strdup(labels_arg);
        labels = calloc(strlen(labels_arg) + 2, sizeof *labels);
        if (!labels_buf || !labels) {
            fprintf(stderr, "lorabert: out of memory\n");
            rc = LB_ERR_NOMEM;
            goto out;
        }
        for (char *p = labels_buf;;) {
            char *comma = strchr(p, ',');
            if (comma) *comma = '\0';
            if (!*p) {
                rc = cli_usage_error("predict", "--labels: empty label name in '%s'", labels_arg);
                goto out;
            }
            labels[n_labels++] = p;
            if (!comma) break;
            p = comma + 1;
        }
        if (n_labels < 2) {
            rc = cli_usage_error("predict", "--labels needs at least 2 names, got '%s'", labels_arg);
            goto out;
        }
    }

    lb_error err = {0};
    lb_classifier *c = NULL;
    bool from_stdin = texts.n == 0;
    texts.owned = from_stdin;
    lb_classifier_options co = {.model = {.adapter = adapter_arg,
                                          .labels = (const char *const *)labels,
                                          .num_labels = n_labels,
                                          .precision = precision},
                                .max_length = (int)max_length,
                                .truncate_left = truncate_left,
                                .batch_size = (int)batch_size,
                                .threads = (int)threads};
    if (lb_classifier_open(model_arg, &co, &c, &err)) goto fail;
    lb_model_info info;
    lb_model_get_info(lb_classifier_model(c), &info);
    /* Without an adapter, transformers' notice about a newly initialised head matters. */
    if (info.load_notice && !info.adapter_dir) fprintf(stderr, "%s\n", info.load_notice);
    const int L = info.num_labels;
    bool table = !input && (force_table || (!force_json && isatty(STDOUT_FILENO)));
    size_t label_w = 5;
    for (int k = 0; k < L && table; k++)
        if (strlen(info.labels[k]) > label_w) label_w = strlen(info.labels[k]);
    if (table) printf("%5s  %-*s  %8s  %s\n", "index", (int)label_w, "label", "score", "text");
    predict_ctx pc = {.c = c,
                      .num_labels = L,
                      .table = table,
                      .label_w = label_w,
                      .multi = !strcmp(info.problem_type, "multi_label_classification"),
                      .regression = !strcmp(info.problem_type, "regression"),
                      .threshold = threshold};
    if (input) {
        if (predict_file(&pc, input, text_col, pair_col, output, (int)batch_size, &err)) goto fail;
    } else if (!from_stdin) {
        if (predict_chunk(&pc, &texts, 0, &err)) goto fail;
    } else {
        /* A chunk is what is there now, up to one batch: the first line is waited for, the rest
         * only taken while more is already waiting. */
        line_reader lr = {0};
        size_t done = 0;
        lb_status st = LB_OK;
        for (;;) {
            char *s;
            size_t len;
            int got = next_line(&lr, texts.n == 0, &s, &len, &err);
            if (got < 0) {
                st = err.code;
                break;
            }
            if (got > 0 && (st = texts_push(&texts, s, len, &err))) {
                free(s);
                break;
            }
            if (texts.n && (got == 0 || texts.n >= (size_t)batch_size)) {
                if ((st = predict_chunk(&pc, &texts, done, &err))) break;
                done += texts.n;
                for (size_t i = 0; i < texts.n; i++) free(texts.text[i]);
                texts.n = 0;
            }
            if (got == 0 && lr.eof) break;
        }
        free(lr.buf);
        if (!st && done == 0)
            st = cli_err(&err, LB_ERR_FORMAT, "stdin: no texts (give TEXT arguments or one text per line)");
        if (st) goto fail;
    }
    goto cleanup;
fail:
    rc = cli_fail(&err);
cleanup:
    lb_classifier_close(c);
out:
    free(args);
    if (texts.owned)
        for (size_t i = 0; i < texts.n; i++) free(texts.text[i]);
    free(texts.text);
    free(texts.len);
    free(labels);
    free(labels_buf);
    return rc;
}
