/* Many adapters over one base (include/lorabert.h "Many adapters over one base"), through that
 * header alone: adapters made and trained with the API on the tiny DistilBERT/BERT goldens (with
 * different ranks, alphas, targets, rsLoRA and 2/3/5 labels); a mixed batch of several adapters
 * and base rows in shuffled order gives each row the bits it gets alone through
 * lb_classifier_open(adapter folder) + lb_model_predict_tokens (fp32 and bf16), pairs included;
 * refusals with their messages; lb_adapter_info; memory; many adapters; NULL and n = 0 handling;
 * lb_adapter_open on another thread while the base predicts; lb_scores against lb_classify. */
#include <cjson/cJSON.h>
#include <criterion/criterion.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lorabert.h"
#include "../support/test_support.h"

static char tmp[64];

/* The tiny models' 120-entry vocabulary (the words of the texts below, then fillers). */
static void write_vocab(const char *dir) {
    static const char *words[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]",    "[MASK]", "it",   "was",   "good",
                                  ".",     "not",   "a",     "fan",      ",",      "don",  "'",     "t",
                                  "rec",   "##om",  "##med", "better",   "than",   "the",  "first", "one",
                                  "this",  "is",    "worth", "watching", "even",   "once", "pass",  NULL};
    char path[512];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    FILE *f = fopen(path, "w");
    cr_assert_not_null(f);
    int n = 0;
    for (; words[n]; n++) fprintf(f, "%s\n", words[n]);
    for (; n < 120; n++) fprintf(f, "filler%d\n", n);
    fclose(f);
}

/* src's model.safetensors without the classifier.* tensors (a base checkpoint whose head is made
 * for any class count), written to dst. */
static void write_headless(const char *src, const char *dst) {
    size_t len;
    char *d = slurp_file(src, &len);
    uint64_t hlen;
    memcpy(&hlen, d, 8);
    char *htext = malloc(hlen + 1);
    memcpy(htext, d + 8, hlen);
    htext[hlen] = '\0';
    cJSON *h = cJSON_Parse(htext), *nh = cJSON_CreateObject();
    cr_assert_not_null(h);
    const char *data = d + 8 + hlen;
    char *out = malloc(len);
    size_t used = 0;
    const cJSON *t;
    cJSON_ArrayForEach(t, h) {
        if (!strncmp(t->string, "classifier.", 11)) continue;
        cJSON *c = cJSON_Duplicate(t, 1);
        const cJSON *offs = cJSON_GetObjectItem(t, "data_offsets");
        if (offs) {
            size_t b = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble,
                   e = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
            memcpy(out + used, data + b, e - b);
            cJSON *no = cJSON_CreateArray();
            cJSON_AddItemToArray(no, cJSON_CreateNumber((double)used));
            cJSON_AddItemToArray(no, cJSON_CreateNumber((double)(used + e - b)));
            cJSON_ReplaceItemInObject(c, "data_offsets", no);
            used += e - b;
        }
        cJSON_AddItemToObject(nh, t->string, c);
    }
    char *ntext = cJSON_PrintUnformatted(nh);
    uint64_t nlen = strlen(ntext);
    FILE *f = fopen(dst, "wb");
    cr_assert_not_null(f);
    fwrite(&nlen, 8, 1, f);
    fwrite(ntext, 1, nlen, f);
    fwrite(out, 1, used, f);
    fclose(f);
    free(ntext);
    free(out);
    cJSON_Delete(h);
    cJSON_Delete(nh);
    free(htext);
    free(d);
}

/* tmp/<arch>: the golden model without its classifier (newly initialised for any class count),
 * with vocab.txt (or the golden's tokenizer.json). */
static void make_base(const char *arch) {
    char d[128], src[256], dst[512];
    snprintf(d, sizeof d, "%s/%s", tmp, arch);
    cr_assert_eq(mkdir(d, 0755), 0);
    snprintf(src, sizeof src, "tests/golden/%s/model/config.json", arch);
    snprintf(dst, sizeof dst, "%s/config.json", d);
    copy_file(src, dst);
    snprintf(src, sizeof src, "tests/golden/%s/model/model.safetensors", arch);
    snprintf(dst, sizeof dst, "%s/model.safetensors", d);
    write_headless(src, dst);
    /* RoBERTa / XLM-R: their trained tokenizer.json; else the small WordPiece vocabulary */
    snprintf(src, sizeof src, "tests/golden/%s/model/tokenizer.json", arch);
    snprintf(dst, sizeof dst, "%s/tokenizer.json", d);
    if (access(src, R_OK) == 0) copy_file(src, dst);
    else write_vocab(d);
}

static const char *const texts[] = {"It was good.",
                                    "Not a fan, don't recommed.",
                                    "Better than the first one.",
                                    "This is not worth watching even once.",
                                    "This one is a pass.",
                                    "it was not good",
                                    "the first one was better",
                                    "worth watching"};
#define NTEXTS 8

static lb_tokenizer *open_tok(const char *dir) {
    lb_tokenizer *tok = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_tokenizer_open(dir, &tok, &err), LB_OK, "%s", err.msg);
    return tok;
}

/* An adapter folder tmp/<name>: added to <arch> with lo and num_labels classes, trained a few
 * steps (so B != 0 and the head moves), saved. */
static void make_adapter(const char *arch, const char *name, const lb_lora_options *lo, int num_labels) {
    char m[256], out[256];
    snprintf(m, sizeof m, "%s/%s", tmp, arch);
    snprintf(out, sizeof out, "%s/%s", tmp, name);
    static const char *const names[] = {"alpha", "beta", "gamma", "delta", "epsilon"};
    lb_model_options mo = {.num_labels = num_labels, .labels = names};
    lb_model *model = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_model_open(m, &mo, &model, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_add_adapter(model, lo, &err), LB_OK, "%s", err.msg);
    lb_train_options o;
    lb_train_options_init(&o);
    o.max_steps = 3;
    o.learning_rate = 0.05;
    lb_train_run *r = NULL;
    cr_assert_eq(lb_train_run_open(model, NULL, NULL, &o, NULL, &r, &err), LB_OK, "%s", err.msg);
    lb_tokenizer *tok = open_tok(m);
    int32_t ids[4 * 16] = {0}, lens[4], labels[4], tt[4 * 16] = {0};
    for (int step = 0; step < 3; step++) {
        for (int b = 0; b < 4; b++) {
            lb_tokens t = {0};
            const char *s = texts[(step * 4 + b) % NTEXTS];
            cr_assert_eq(lb_tokenizer_encode(tok, s, strlen(s), NULL, 0, NULL, &t, &err), LB_OK, "%s", err.msg);
            cr_assert(t.n <= 16);
            memcpy(ids + b * 16, t.ids, (size_t)t.n * sizeof *ids);
            lens[b] = t.n;
            labels[b] = (step + b) % num_labels;
            lb_tokens_free(&t);
        }
        cr_assert_eq(lb_train_step_batch(r, ids, lens, tt, 4, 16, labels, NULL, &err), LB_OK, "%s", err.msg);
    }
    lb_train_run_close(r);
    lb_tokenizer_close(tok);
    cr_assert_eq(lb_model_save_adapter(model, out, &err), LB_OK, "%s", err.msg);
    lb_model_close(model);
}

static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/lbadXXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    make_base("distilbert_tiny");
    make_base("bert_tiny");
    make_adapter("distilbert_tiny", "d_q", &(lb_lora_options){.r = 4, .alpha = 32, .target_modules = "q_lin"}, 2);
    make_adapter("distilbert_tiny", "d_qv1",
                 &(lb_lora_options){.r = 8, .alpha = 16, .target_modules = "q_lin,v_lin,lin1", .seed = 7}, 3);
    make_adapter("distilbert_tiny", "d_all",
                 &(lb_lora_options){.r = 2, .alpha = 8, .target_modules = "all-linear", .use_rslora = true, .seed = 9},
                 5);
    make_adapter("bert_tiny", "b_qv", &(lb_lora_options){.r = 4, .alpha = 32, .target_modules = "query,value"}, 2);
    make_adapter("bert_tiny", "b_dense",
                 &(lb_lora_options){.r = 6, .alpha = 12, .target_modules = "key,dense", .seed = 3}, 3);
    make_adapter("bert_tiny", "b_all",
                 &(lb_lora_options){.r = 3, .alpha = 5, .target_modules = "all-linear", .use_rslora = true, .seed = 5},
                 5);
    make_base("roberta_tiny");
    make_base("xlmr_tiny");
    make_adapter("roberta_tiny", "r_qv", &(lb_lora_options){.r = 4, .alpha = 32, .target_modules = "query,value"}, 2);
    make_adapter("roberta_tiny", "r_all",
                 &(lb_lora_options){.r = 3, .alpha = 5, .target_modules = "all-linear", .seed = 5}, 3);
    make_adapter("xlmr_tiny", "x_kd",
                 &(lb_lora_options){.r = 6, .alpha = 12, .target_modules = "key,output.dense", .seed = 3}, 4);
    make_adapter("xlmr_tiny", "x_q", &(lb_lora_options){.r = 2, .alpha = 4, .target_modules = "query", .seed = 8}, 2);
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(adapters, .init = setup, .fini = teardown, .timeout = 300);

static const char *path_of(const char *name) {
    static char p[4][256];
    static int i;
    i = (i + 1) % 4;
    snprintf(p[i], sizeof p[i], "%s/%s", tmp, name);
    return p[i];
}

static lb_model *open_base(const char *arch) {
    lb_model *m = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_model_open(path_of(arch), NULL, &m, &err), LB_OK, "%s", err.msg);
    return m;
}

static lb_adapter *open_adapter(const lb_model *base, const char *name) {
    lb_adapter *a = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_adapter_open(base, path_of(name), NULL, &a, &err), LB_OK, "%s: %s", name, err.msg);
    return a;
}

/* Row alone through a classifier opened on the adapter folder (or the base), at precision p. */
static void alone(const char *model, lb_precision p, const lb_tokens *t, bool pairs, float *z, int *nl) {
    lb_classifier_options co = {.model = {.precision = p}};
    lb_classifier *c = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_classifier_open(model, &co, &c, &err), LB_OK, "%s: %s", model, err.msg);
    *nl = lb_classifier_num_labels(c);
    cr_assert_eq(
        lb_model_predict_tokens(lb_classifier_model(c), t->ids, &t->n, pairs ? t->type_ids : NULL, 1, t->n, z, &err),
        LB_OK, "%s", err.msg);
    lb_classifier_close(c);
}

/* Whether fp32 runs the frozen linears on the packed AVX-512 kernel (row-independent): on a
 * CPU without AVX-512F (or with it masked, as tests/run does to test an AVX2 machine's paths)
 * they run on OpenBLAS, whose bits for a row depend on the other rows, and a mixed batch then
 * equals each row alone within fp32 rounding only (the header says so). */
static bool fp32_rows_bitwise(void) {
    const char *mask = getenv("LORABERT_CPU_DISABLE");
    if (mask && strstr(mask, "avx512")) return false;
    FILE *f = fopen("/proc/cpuinfo", "r");
    if (!f) return false;
    char line[8192];
    bool has = false;
    while (!has && fgets(line, sizeof line, f))
        if (!strncmp(line, "flags", 5)) has = strstr(line, " avx512f") != NULL;
    fclose(f);
    return has;
}

#define NROWS 13
#define LD 7

/* A mixed batch over base: rows i use adapter names[pick[i]] (NULL: the base), texts paired
 * with a second text when pairs; every row equals itself alone, bit for bit; and a second call
 * with the rows in another order gives the same bits. */
static void mixed_case(const char *arch, const char *const *names, int nnames, bool pairs, lb_precision p) {
    lb_model *base = open_base(arch);
    lb_error err = {0};
    cr_assert_eq(lb_model_set_precision(base, p, &err), LB_OK, "%s", err.msg);
    lb_adapter *ads[8] = {0};
    for (int k = 0; k < nnames; k++) ads[k] = names[k] ? open_adapter(base, names[k]) : NULL;
    lb_tokenizer *tok = open_tok(path_of(arch));
    lb_tokens rows[NROWS] = {0};
    const lb_adapter *use[NROWS];
    int pick[NROWS];
    for (int i = 0; i < NROWS; i++) {
        pick[i] = (i * 5 + 3) % nnames; /* shuffled: no two neighbours share an adapter */
        use[i] = ads[pick[i]];
        const char *a = texts[i % NTEXTS], *b = pairs && i % 3 ? texts[(i + 3) % NTEXTS] : NULL;
        cr_assert_eq(lb_tokenizer_encode(tok, a, strlen(a), b, b ? strlen(b) : 0, NULL, &rows[i], &err), LB_OK, "%s",
                     err.msg);
    }
    float z[NROWS * LD], z2[NROWS * LD];
    memset(z, 0, sizeof z);
    cr_assert_eq(lb_model_predict_adapters(base, rows, use, NROWS, z, LD, &err), LB_OK, "%s", err.msg);
    for (int i = 0; i < NROWS; i++) {
        float want[LD];
        int nl;
        alone(names[pick[i]] ? path_of(names[pick[i]]) : path_of(arch), p, &rows[i], pairs, want, &nl);
        lb_adapter_info info;
        lb_adapter_get_info(use[i], &info);
        cr_assert_eq(nl, use[i] ? info.num_labels : 2);
        if (p == LB_PRECISION_FP32 && !fp32_rows_bitwise()) {
            for (int k = 0; k < nl; k++)
                cr_assert(fabsf(z[i * LD + k] - want[k]) <= 1e-5f * (1 + fabsf(want[k])), "%s row %d label %d", arch, i,
                          k);
            continue;
        }
        cr_assert_eq(memcmp(z + i * LD, want, (size_t)nl * sizeof *want), 0,
                     "%s %s row %d (adapter %s): %.9g %.9g vs alone %.9g %.9g", arch, lb_precision_name(p), i,
                     names[pick[i]] ? names[pick[i]] : "(base)", z[i * LD], z[i * LD + 1], want[0], want[1]);
    }
    /* reversed order, one call: the same bits */
    lb_tokens rrows[NROWS];
    const lb_adapter *ruse[NROWS];
    for (int i = 0; i < NROWS; i++) {
        rrows[i] = rows[NROWS - 1 - i];
        ruse[i] = use[NROWS - 1 - i];
    }
    cr_assert_eq(lb_model_predict_adapters(base, rrows, ruse, NROWS, z2, LD, &err), LB_OK, "%s", err.msg);
    for (int i = 0; i < NROWS; i++) {
        lb_adapter_info info;
        lb_adapter_get_info(use[i], &info);
        int nl = use[i] ? info.num_labels : 2;
        const float *r = z2 + (NROWS - 1 - i) * LD;
        if (p == LB_PRECISION_FP32 && !fp32_rows_bitwise())
            for (int k = 0; k < nl; k++) cr_assert(fabsf(z[i * LD + k] - r[k]) <= 1e-5f * (1 + fabsf(r[k])));
        else cr_assert_eq(memcmp(z + i * LD, r, (size_t)nl * sizeof *z), 0, "row %d reordered", i);
    }
    /* different adapters give different logits (the test would pass vacuously otherwise) */
    cr_assert(memcmp(z, z + LD, 2 * sizeof *z) != 0);
    for (int i = 0; i < NROWS; i++) lb_tokens_free(&rows[i]);
    lb_tokenizer_close(tok);
    for (int k = 0; k < nnames; k++) lb_adapter_close(ads[k]);
    lb_model_close(base);
}

Test(adapters, mixed_batch_equals_each_row_alone_distilbert) {
    const char *names[] = {"d_q", NULL, "d_qv1", "d_all"};
    mixed_case("distilbert_tiny", names, 4, false, LB_PRECISION_FP32);
    mixed_case("distilbert_tiny", names, 4, false, LB_PRECISION_BF16);
}

Test(adapters, mixed_batch_equals_each_row_alone_bert_pairs) {
    const char *names[] = {"b_qv", "b_dense", NULL, "b_all"};
    mixed_case("bert_tiny", names, 4, false, LB_PRECISION_FP32);
    mixed_case("bert_tiny", names, 4, true, LB_PRECISION_FP32);
    mixed_case("bert_tiny", names, 4, true, LB_PRECISION_BF16);
}

/* RoBERTa / XLM-R: each adapter's own classifier.dense + out_proj head, pad-relative positions */
Test(adapters, mixed_batch_equals_each_row_alone_roberta_xlmr) {
    const char *rnames[] = {"r_qv", NULL, "r_all"};
    mixed_case("roberta_tiny", rnames, 3, false, LB_PRECISION_FP32);
    mixed_case("roberta_tiny", rnames, 3, true, LB_PRECISION_FP32);
    mixed_case("roberta_tiny", rnames, 3, true, LB_PRECISION_BF16);
    const char *xnames[] = {"x_kd", "x_q"}; /* (the base alone: 3 classes, rows above assume 2) */
    mixed_case("xlmr_tiny", xnames, 2, true, LB_PRECISION_FP32);
    mixed_case("xlmr_tiny", xnames, 2, false, LB_PRECISION_BF16);
}

Test(adapters, info_fields_and_memory) {
    lb_model *base = open_base("distilbert_tiny");
    lb_adapter *a = open_adapter(base, "d_qv1");
    lb_adapter_info info;
    lb_adapter_get_info(a, &info);
    cr_assert_str_eq(info.dir, path_of("d_qv1"));
    cr_assert_str_eq(info.base_model, path_of("distilbert_tiny"));
    /* lb_model_save_adapter copies the base's tokenizer: the same bytes tokenize with the base's */
    cr_assert_null(info.tokenizer_dir);
    cr_assert_eq(info.num_labels, 3);
    cr_assert_str_eq(info.labels[0], "alpha");
    cr_assert_str_eq(info.labels[2], "gamma");
    cr_assert_eq(info.lora_r, 8);
    cr_assert_eq(info.lora_alpha, 16);
    cr_assert_str_eq(info.target_modules, "q_lin,v_lin,lin1");
    cr_assert(!info.use_rslora);
    /* 2 layers x (q, v: 8x32 + 32x8; lin1: 8x32 + 64x8) + pre_classifier 32x32+32 + classifier 3x32+3 */
    int64_t want = 2 * (2 * (8 * 32 + 32 * 8) + (8 * 32 + 64 * 8)) + 32 * 32 + 32 + 3 * 32 + 3;
    cr_assert_eq(info.params, want);
    cr_assert(info.bytes >= (size_t)want * 4 && info.bytes <= (size_t)want * 4 + 2048, "bytes %zu for %lld values",
              info.bytes, (long long)want);
    lb_adapter_close(a);
    a = open_adapter(base, "d_all");
    lb_adapter_get_info(a, &info);
    cr_assert_str_eq(info.target_modules, "q_lin,k_lin,v_lin,out_lin,lin1,lin2");
    cr_assert(info.use_rslora);
    cr_assert_eq(info.num_labels, 5);
    lb_adapter_close(a);
    /* labels given override labels.json */
    const char *const mine[] = {"x", "y", "z"};
    lb_adapter_options ao = {.labels = mine, .num_labels = 3};
    lb_error err = {0};
    cr_assert_eq(lb_adapter_open(base, path_of("d_qv1"), &ao, &a, &err), LB_OK, "%s", err.msg);
    lb_adapter_get_info(a, &info);
    cr_assert_str_eq(info.labels[1], "y");
    lb_adapter_close(a);
    ao = (lb_adapter_options){.num_labels = 4};
    cr_assert_eq(lb_adapter_open(base, path_of("d_qv1"), &ao, &a, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "has 3 labels, 4 were asked for"), "%s", err.msg);
    cr_assert_null(a);
    lb_adapter_get_info(NULL, &info);
    cr_assert_null(info.dir);
    cr_assert_eq(info.num_labels, 0);
    lb_model_close(base);
}

/* Replaces `from` (which must be there) by `to` in dir/adapter_config.json. */
static void replace_in_config(const char *dir, const char *from, const char *to) {
    char path[512];
    snprintf(path, sizeof path, "%s/adapter_config.json", dir);
    size_t len;
    char *cfg = slurp_file(path, &len);
    char *at = strstr(cfg, from);
    cr_assert_not_null(at, "%s not in %s", from, path);
    size_t n = len + strlen(to) + 1;
    char *out = malloc(n);
    snprintf(out, n, "%.*s%s%s", (int)(at - cfg), cfg, to, at + strlen(from));
    write_text(path, out);
    free(out);
    free(cfg);
}

/* A copy of adapter `name` as tmp/<copy> (static buffer), with adapter_config.json's `from`
 * replaced by `to` (from NULL: as it is). */
static const char *copy_adapter(const char *name, const char *copy, const char *from, const char *to) {
    char src[512], dst[512];
    static char d[256];
    snprintf(d, sizeof d, "%s", path_of(copy));
    mkdir(d, 0755);
    const char *files[] = {"adapter_model.safetensors", "labels.json", "adapter_config.json"};
    for (int i = 0; i < 3; i++) {
        snprintf(src, sizeof src, "%s/%s", path_of(name), files[i]);
        snprintf(dst, sizeof dst, "%s/%s", d, files[i]);
        copy_file(src, dst);
    }
    if (from) replace_in_config(d, from, to);
    return d;
}

static void refused(const lb_model *base, const char *dir, lb_status code, const char *msg) {
    lb_adapter *a = (lb_adapter *)(uintptr_t)1;
    lb_error err = {0};
    cr_assert_eq(lb_adapter_open(base, dir, NULL, &a, &err), code, "%s: %s", dir, err.msg);
    cr_assert_null(a);
    cr_assert(strstr(err.msg, msg), "%s: expected \"%s\" in: %s", dir, msg, err.msg);
}

Test(adapters, refusals_name_the_reason) {
    lb_model *dbase = open_base("distilbert_tiny"), *bbase = open_base("bert_tiny");
    /* another architecture: the base it names (a local folder) says so */
    refused(bbase, path_of("d_q"), LB_ERR_USAGE, "its base_model_name_or_path: ");
    refused(bbase, path_of("d_q"), LB_ERR_USAGE, "model_type distilbert, expected bert as the base model");
    /* the same adapters moved away from their base: the target modules are not linears of this
     * architecture; with all-linear, the tensor names differ */
    char dbdir[256], bbdir[256];
    snprintf(dbdir, sizeof dbdir, "%s", path_of("distilbert_tiny"));
    snprintf(bbdir, sizeof bbdir, "%s", path_of("bert_tiny"));
    refused(bbase, copy_adapter("d_q", "d_q_moved", dbdir, "/nowhere/distilbert"), LB_ERR_USAGE,
            "target module 'q_lin' is not a linear layer of this model (query, value, ...)");
    refused(dbase, copy_adapter("b_qv", "b_qv_moved", bbdir, "/nowhere/bert"), LB_ERR_USAGE,
            "target module 'query' is not a linear layer of this model (q_lin, v_lin, ...)");
    const char *all_lin = copy_adapter("d_all", "all_lin", dbdir, "/nowhere/distilbert");
    replace_in_config(all_lin, "\"target_modules\": [", "\"target_modules\": \"all-linear\", \"x\": [");
    refused(bbase, all_lin, LB_ERR_FORMAT, "is missing (the adapter does not match this model");
    /* shapes that do not match: the config says r = 5, the tensors hold r = 4 */
    refused(dbase, copy_adapter("d_q", "bad_r", "\"r\": 4", "\"r\": 5"), LB_ERR_FORMAT,
            "has shape [4,32], expected [5,32]");
    /* unsupported target and PEFT options */
    refused(dbase, copy_adapter("d_q", "bad_t", "\"q_lin\"", "\"c_attn\""), LB_ERR_UNSUPPORTED,
            "target module 'c_attn' is not supported");
    refused(dbase, copy_adapter("d_q", "bad_f", "\"fan_in_fan_out\": false", "\"fan_in_fan_out\": true"),
            LB_ERR_UNSUPPORTED, "fan_in_fan_out true is not supported");
    /* corrupted tensors: the file cut short */
    const char *cut = copy_adapter("d_q", "cut", NULL, NULL);
    char p[512];
    snprintf(p, sizeof p, "%s/adapter_model.safetensors", cut);
    struct stat sb;
    cr_assert_eq(stat(p, &sb), 0);
    cr_assert_eq(truncate(p, sb.st_size - 100), 0);
    lb_adapter *a = NULL;
    lb_error err = {0};
    lb_status st = lb_adapter_open(dbase, cut, NULL, &a, &err);
    cr_assert(st == LB_ERR_FORMAT, "%d: %s", st, err.msg);
    cr_assert(strstr(err.msg, "adapter_model.safetensors"), "%s", err.msg);
    unlink(p);
    refused(dbase, cut, LB_ERR_IO, "missing adapter_model.safetensors");
    refused(dbase, path_of("distilbert_tiny"), LB_ERR_IO, "not a PEFT adapter folder");
    refused(dbase, path_of("nothing_here"), LB_ERR_IO, "no such adapter folder");
    /* a base holding an adapter */
    lb_model *with = NULL;
    lb_model_options mo = {.adapter = path_of("d_q")};
    cr_assert_eq(lb_model_open(path_of("distilbert_tiny"), &mo, &with, &err), LB_OK, "%s", err.msg);
    refused(with, path_of("d_qv1"), LB_ERR_USAGE, "the base model holds an adapter");
    lb_tokens t = {0};
    int32_t ids[3] = {2, 5, 3};
    t.ids = ids;
    t.n = 3;
    float z[8];
    cr_assert_eq(lb_model_predict_adapters(with, &t, NULL, 1, z, 8, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "holds an adapter"), "%s", err.msg);
    lb_model_close(with);
    /* an adapter used with a base of other shapes */
    a = open_adapter(dbase, "d_q");
    const lb_adapter *use[1] = {a};
    cr_assert_eq(lb_model_predict_adapters(bbase, &t, use, 1, z, 8, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "row 0") && strstr(err.msg, "another architecture"), "%s", err.msg);
    lb_adapter_close(a);
    /* trained on a local base whose config differs where the tensors cannot show it (heads) */
    char h2[256], src[512], dst[512];
    snprintf(h2, sizeof h2, "%s", path_of("bert_tiny_h2"));
    cr_assert_eq(mkdir(h2, 0755), 0);
    snprintf(src, sizeof src, "%s/config.json", path_of("bert_tiny"));
    size_t clen;
    char *cfg = slurp_file(src, &clen), *heads = strstr(cfg, "\"num_attention_heads\": 4");
    cr_assert_not_null(heads);
    heads[strlen("\"num_attention_heads\": ")] = '2';
    snprintf(dst, sizeof dst, "%s/config.json", h2);
    write_text(dst, cfg);
    free(cfg);
    const char *b_h2 = copy_adapter("b_qv", "b_h2", bbdir, h2);
    refused(bbase, b_h2, LB_ERR_USAGE, "attention heads 2, expected 4 as the base model");
    /* a base name that differs is not an error when the shapes match (folders move) */
    a = NULL;
    const char *moved = copy_adapter("d_q", "moved", dbdir, "/nowhere/distilbert");
    cr_assert_eq(lb_adapter_open(dbase, moved, NULL, &a, &err), LB_OK, "%s", err.msg);
    lb_adapter_info info;
    lb_adapter_get_info(a, &info);
    cr_assert_str_eq(info.base_model, "/nowhere/distilbert");
    cr_assert_null(info.tokenizer_dir);
    lb_adapter_close(a);
    lb_model_close(dbase);
    lb_model_close(bbase);
}

Test(adapters, rows_and_arguments_checked) {
    lb_model *base = open_base("distilbert_tiny");
    lb_adapter *a = open_adapter(base, "d_all"); /* 5 labels */
    lb_error err = {0};
    int32_t ids[70] = {2, 5, 6, 7, 3};
    lb_tokens t[2] = {{.ids = ids, .n = 5}, {.ids = ids, .n = 5}};
    const lb_adapter *use[2] = {NULL, a};
    float z[20];
    /* n = 0: nothing read or written, even with NULL arrays */
    cr_assert_eq(lb_model_predict_adapters(base, NULL, NULL, 0, NULL, 0, &err), LB_OK);
    cr_assert_eq(lb_model_predict_adapters(NULL, t, use, 2, z, 5, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "base is NULL"), "%s", err.msg);
    cr_assert_eq(lb_model_predict_adapters(base, NULL, use, 2, z, 5, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "rows is NULL"), "%s", err.msg);
    cr_assert_eq(lb_model_predict_adapters(base, t, use, 2, NULL, 5, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "logits is NULL"), "%s", err.msg);
    cr_assert_eq(lb_model_predict_adapters(base, t, use, 2, z, 4, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "row 1: ld_logits 4 < its 5 labels"), "%s", err.msg);
    cr_assert_eq(lb_model_predict_adapters(base, t, use, 2, z, 5, &err), LB_OK, "%s", err.msg);
    t[1].n = 0;
    cr_assert_eq(lb_model_predict_adapters(base, t, use, 2, z, 5, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "row 1: length 0"), "%s", err.msg);
    t[1].n = 65; /* the tiny models have 64 positions */
    cr_assert_eq(lb_model_predict_adapters(base, t, use, 2, z, 5, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "row 1: length 65, expected 1..64"), "%s", err.msg);
    t[1].n = 5;
    ids[2] = 120;
    cr_assert_eq(lb_model_predict_adapters(base, t, use, 2, z, 5, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "row 0 position 2: id 120 outside the vocabulary"), "%s", err.msg);
    /* NULL arguments of open */
    lb_adapter *b = NULL;
    cr_assert_eq(lb_adapter_open(NULL, path_of("d_q"), NULL, &b, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "base is NULL"), "%s", err.msg);
    cr_assert_eq(lb_adapter_open(base, NULL, NULL, &b, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_adapter_open(base, path_of("d_q"), NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "out is NULL"), "%s", err.msg);
    lb_adapter_close(NULL);
    lb_adapter_close(a);
    lb_model_close(base);
}

/* Sets every value of tensor `name` in dir/adapter_model.safetensors (F32) to v. */
static void poison_tensor(const char *dir, const char *name, float v) {
    char path[512];
    snprintf(path, sizeof path, "%s/adapter_model.safetensors", dir);
    size_t len;
    char *d = slurp_file(path, &len);
    uint64_t hlen;
    memcpy(&hlen, d, 8);
    char save = d[8 + hlen];
    d[8 + hlen] = '\0';
    cJSON *h = cJSON_Parse(d + 8);
    d[8 + hlen] = save;
    const cJSON *t = cJSON_GetObjectItem(h, name);
    cr_assert_not_null(t, "%s not in %s", name, path);
    const cJSON *offs = cJSON_GetObjectItem(t, "data_offsets");
    size_t b = (size_t)cJSON_GetArrayItem(offs, 0)->valuedouble, e = (size_t)cJSON_GetArrayItem(offs, 1)->valuedouble;
    for (size_t o = b; o < e; o += 4) memcpy(d + 8 + hlen + o, &v, 4);
    FILE *f = fopen(path, "wb");
    cr_assert_not_null(f);
    cr_assert_eq(fwrite(d, 1, len, f), len);
    fclose(f);
    cJSON_Delete(h);
    free(d);
}

/* An adapter whose head holds NaN: LB_ERR_NUMERIC naming the row; the other rows are written. */
Test(adapters, non_finite_logits_name_the_row) {
    lb_model *base = open_base("distilbert_tiny");
    const char *nan_dir = copy_adapter("d_qv1", "nan_head", NULL, NULL);
    poison_tensor(nan_dir, "base_model.model.classifier.bias", NAN);
    lb_adapter *bad = NULL, *good = open_adapter(base, "d_q");
    lb_error err = {0};
    cr_assert_eq(lb_adapter_open(base, nan_dir, NULL, &bad, &err), LB_OK, "%s", err.msg);
    int32_t ids[5] = {2, 5, 6, 7, 3};
    lb_tokens rows[3] = {{.ids = ids, .n = 5}, {.ids = ids, .n = 4}, {.ids = ids, .n = 5}};
    const lb_adapter *use[3] = {good, NULL, bad};
    float z[9], want[9];
    for (int i = 0; i < 9; i++) z[i] = 7.0f;
    cr_assert_eq(lb_model_predict_adapters(base, rows, use, 2, want, 3, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_predict_adapters(base, rows, use, 3, z, 3, &err), LB_ERR_NUMERIC);
    cr_assert(strstr(err.msg, "row 2: non-finite logit"), "%s", err.msg);
    cr_assert_eq(memcmp(z, want, 2 * sizeof *z), 0);
    cr_assert_eq(memcmp(z + 3, want + 3, 2 * sizeof *z), 0);
    lb_adapter_close(bad);
    lb_adapter_close(good);
    lb_model_close(base);
}

/* Many small adapters open at once (under ASan: no leak); each costs its tensors only. */
Test(adapters, many_adapters_open_and_close) {
    lb_model *base = open_base("distilbert_tiny");
    enum { N = 100 };
    lb_adapter *a[N];
    size_t total = 0;
    for (int i = 0; i < N; i++) {
        a[i] = open_adapter(base, i % 2 ? "d_q" : "d_qv1");
        lb_adapter_info info;
        lb_adapter_get_info(a[i], &info);
        total += info.bytes;
    }
    cr_assert(total < (size_t)N * 20000, "%zu bytes for %d tiny adapters", total, N);
    lb_tokens t = {0};
    int32_t ids[5] = {2, 5, 6, 7, 3};
    t.ids = ids;
    t.n = 5;
    lb_tokens rows[N];
    float z[N * 3];
    lb_error err = {0};
    for (int i = 0; i < N; i++) rows[i] = t;
    cr_assert_eq(lb_model_predict_adapters(base, rows, (const lb_adapter *const *)a, N, z, 3, &err), LB_OK, "%s",
                 err.msg);
    for (int i = 2; i < N; i++) cr_assert_eq(memcmp(z + i * 3, z + (i % 2) * 3, sizeof(float) * (i % 2 ? 2 : 3)), 0);
    for (int i = 0; i < N; i++) lb_adapter_close(a[i]);
    lb_model_close(base);
}

typedef struct opener {
    const lb_model *base;
    int opened;
    lb_status st;
} opener;

static void *open_many(void *arg) {
    opener *o = arg;
    for (int i = 0; i < 20; i++) {
        lb_adapter *a = NULL;
        lb_error err;
        o->st = lb_adapter_open(o->base, path_of(i % 2 ? "d_all" : "d_qv1"), NULL, &a, &err);
        if (o->st) break;
        o->opened++;
        lb_adapter_close(a);
    }
    return NULL;
}

/* lb_adapter_open on another thread while the base predicts. */
Test(adapters, open_while_predicting) {
    lb_model *base = open_base("distilbert_tiny");
    lb_adapter *a = open_adapter(base, "d_q");
    int32_t ids[6] = {2, 5, 6, 7, 8, 3};
    lb_tokens rows[4] = {{.ids = ids, .n = 6}, {.ids = ids, .n = 4}, {.ids = ids, .n = 6}, {.ids = ids, .n = 5}};
    const lb_adapter *use[4] = {a, NULL, NULL, a};
    float first[8], z[8];
    lb_error err = {0};
    cr_assert_eq(lb_model_predict_adapters(base, rows, use, 4, first, 2, &err), LB_OK, "%s", err.msg);
    opener o = {.base = base};
    pthread_t th;
    cr_assert_eq(pthread_create(&th, NULL, open_many, &o), 0);
    for (int k = 0; k < 30; k++) {
        cr_assert_eq(lb_model_predict_adapters(base, rows, use, 4, z, 2, &err), LB_OK, "%s", err.msg);
        cr_assert_eq(memcmp(z, first, sizeof z), 0);
    }
    cr_assert_eq(pthread_join(th, NULL), 0);
    cr_assert_eq(o.st, LB_OK);
    cr_assert_eq(o.opened, 20);
    lb_adapter_close(a);
    lb_model_close(base);
}

/* lb_scores is lb_classify's probabilities; sigmoid per logit. */
Test(adapters, scores_match_classify) {
    lb_classifier *c = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_classifier_open(path_of("d_all"), NULL, &c, &err), LB_OK, "%s", err.msg);
    int L = lb_classifier_num_labels(c);
    cr_assert_eq(L, 5);
    float z[NTEXTS * 5];
    double p[NTEXTS * 5], s[5];
    cr_assert_eq(lb_classify(c, texts, NULL, NULL, NULL, NTEXTS, NULL, p, z, &err), LB_OK, "%s", err.msg);
    for (int i = 0; i < NTEXTS; i++) {
        lb_scores(z + i * L, L, false, s);
        cr_assert_eq(memcmp(s, p + i * L, sizeof s), 0, "text %d", i);
        double sum = 0;
        for (int k = 0; k < L; k++) sum += s[k];
        cr_assert(fabs(sum - 1) < 1e-12);
        lb_scores(z + i * L, L, true, s);
        for (int k = 0; k < L; k++) cr_assert_eq(s[k], 1.0 / (1.0 + exp(-(double)z[i * L + k])));
    }
    /* max-subtracted: huge logits do not overflow */
    float big[2] = {1000.0f, 999.0f};
    lb_scores(big, 2, false, s);
    cr_assert(fabs(s[0] - 1.0 / (1.0 + exp(-1.0))) < 1e-15, "%.17g", s[0]);
    lb_scores(NULL, 2, false, s); /* nothing written, no crash */
    lb_classifier_close(c);
}

/* An adapter whose tokenizer files differ from the base's (a tokenizer_config.json of its own)
 * names its own folder; without tokenizer files, or with the base's, it has none. */
Test(adapters, own_tokenizer_only_when_its_files_differ) {
    lb_model *base = open_base("distilbert_tiny");
    lb_error err = {0};
    const char *dir = copy_adapter("d_qv1", "own_tok", NULL, NULL);
    char own[512];
    snprintf(own, sizeof own, "%s", dir);
    lb_adapter *a = NULL;
    lb_adapter_info info;
    cr_assert_eq(lb_adapter_open(base, own, NULL, &a, &err), LB_OK, "%s", err.msg);
    lb_adapter_get_info(a, &info);
    cr_assert_null(info.tokenizer_dir, "no tokenizer files: the base's");
    lb_adapter_close(a);
    const char *files[] = {"vocab.txt", "tokenizer_config.json", "special_tokens_map.json", "tokenizer.json"};
    char src[600], dst[600];
    for (int i = 0; i < 4; i++) {
        snprintf(src, sizeof src, "%s/%s", path_of("d_qv1"), files[i]);
        snprintf(dst, sizeof dst, "%s/%s", own, files[i]);
        if (access(src, F_OK) == 0) copy_file(src, dst);
    }
    cr_assert_eq(lb_adapter_open(base, own, NULL, &a, &err), LB_OK, "%s", err.msg);
    lb_adapter_get_info(a, &info);
    cr_assert_null(info.tokenizer_dir, "the base's files, copied: the base's tokenizer");
    lb_adapter_close(a);
    /* a tokenizer_config.json of its own (the base has another, or none) */
    snprintf(dst, sizeof dst, "%s/tokenizer_config.json", own);
    write_text(dst, "{\"model_max_length\": 64, \"do_lower_case\": true}");
    cr_assert_eq(lb_adapter_open(base, own, NULL, &a, &err), LB_OK, "%s", err.msg);
    lb_adapter_get_info(a, &info);
    cr_assert_str_eq(info.tokenizer_dir, own, "a tokenizer of its own");
    lb_adapter_close(a);
    lb_model_close(base);
}
