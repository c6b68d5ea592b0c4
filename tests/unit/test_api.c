/* Tests for the public API (include/lorabert.h) through that header alone: the classifier on
 * the tiny DistilBERT/BERT goldens with a generated vocabulary, one resolution rule for model,
 * adapter and labels, adapter save round trips, refusals with their messages, tokenizer pairs,
 * lb_describe, version. Numeric parity with HF is tested per module (test_model, test_peft_adapter);
 * here the façade must give the same numbers as its parts. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "lorabert.h"
#include "../support/test_support.h"

static char tmp[64];

/* The tiny model's 120-entry vocabulary: specials, the words of the texts below, fillers. */
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

/* tmp/<arch>: the golden model + vocab.txt; tmp/<arch>-lora: its PEFT adapter, base = that path. */
static void make_case(const char *arch) {
    char d[128], a[128], s[256], cfg[1024];
    snprintf(d, sizeof d, "%s/%s", tmp, arch);
    snprintf(a, sizeof a, "%s/%s-lora", tmp, arch);
    cr_assert_eq(mkdir(d, 0755), 0);
    cr_assert_eq(mkdir(a, 0755), 0);
    const char *files[] = {"config.json", "model.safetensors"};
    for (int i = 0; i < 2; i++) {
        char src[256], dst[512];
        snprintf(src, sizeof src, "tests/golden/%s/model/%s", arch, files[i]);
        snprintf(dst, sizeof dst, "%s/%s", d, files[i]);
        copy_file(src, dst);
    }
    write_vocab(d);
    snprintf(s, sizeof s, "tests/golden/%s/lora/adapter_model.safetensors", arch);
    char dst[512];
    snprintf(dst, sizeof dst, "%s/adapter_model.safetensors", a);
    copy_file(s, dst);
    snprintf(cfg, sizeof cfg,
             "{\"base_model_name_or_path\": \"%s\", \"peft_type\": \"LORA\", \"task_type\": \"SEQ_CLS\", "
             "\"r\": 4, \"lora_alpha\": 32, \"lora_dropout\": 0.0, \"target_modules\": %s}",
             d, strcmp(arch, "bert_tiny") ? "[\"q_lin\"]" : "[\"query\", \"value\"]");
    snprintf(dst, sizeof dst, "%s/adapter_config.json", a);
    write_text(dst, cfg);
}

static void setup(void) {
    snprintf(tmp, sizeof tmp, "/tmp/lbapiXXXXXX");
    cr_assert_not_null(mkdtemp(tmp));
    make_case("distilbert_tiny");
    make_case("bert_tiny");
}

static void teardown(void) {
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    cr_assert_eq(system(cmd), 0);
}

TestSuite(api, .init = setup, .fini = teardown);

static const char *const seed_texts[] = {"It was good.", "Not a fan, don't recommed.", "Better than the first one.",
                                         "This is not worth watching even once.", "This one is a pass."};

static lb_classifier *open_classifier(const char *model, const char *adapter, int batch) {
    lb_classifier_options o = {.model = {.adapter = adapter}, .batch_size = batch};
    lb_classifier *c = NULL;
    lb_error err = {0};
    lb_status st = lb_classifier_open(model, &o, &c, &err);
    cr_assert_eq(st, LB_OK, "open %s: %s", model, err.msg);
    return c;
}

Test(api, version) {
    cr_assert_str_eq(lb_version(), LORABERT_VERSION);
    cr_assert_eq(lb_version_number(), LORABERT_VERSION_NUMBER);
    cr_assert_eq(LORABERT_VERSION_NUMBER,
                 LORABERT_VERSION_MAJOR * 10000 + LORABERT_VERSION_MINOR * 100 + LORABERT_VERSION_PATCH);
}

/* Batched, length-sorted classification equals classifying each text alone; probabilities are
 * the softmax of the logits; the label is the argmax. */
Test(api, classify_batched_equals_single) {
    const char *archs[] = {"distilbert_tiny", "bert_tiny"};
    for (int a = 0; a < 2; a++) {
        char m[256], ad[256];
        snprintf(m, sizeof m, "%s/%s", tmp, archs[a]);
        snprintf(ad, sizeof ad, "%s/%s-lora", tmp, archs[a]);
        lb_classifier *c = open_classifier(m, ad, 2), *one = open_classifier(m, ad, 1);
        int L = lb_classifier_num_labels(c);
        cr_assert_eq(L, 2);
        int32_t label[5];
        double probs[10];
        float logits[10];
        lb_error err = {0};
        cr_assert_eq(lb_classify(c, seed_texts, NULL, NULL, NULL, 5, label, probs, logits, &err), LB_OK, "%s", err.msg);
        for (int i = 0; i < 5; i++) {
            int32_t l1;
            double p1[2];
            float z1[2];
            cr_assert_eq(lb_classify(one, &seed_texts[i], NULL, NULL, NULL, 1, &l1, p1, z1, &err), LB_OK, "%s",
                         err.msg);
            for (int k = 0; k < L; k++)
                cr_assert(fabsf(z1[k] - logits[i * L + k]) <= 1e-5f * (1 + fabsf(z1[k])), "%s text %d: %g vs %g",
                          archs[a], i, z1[k], logits[i * L + k]);
            double e0 = exp((double)logits[i * L] - logits[i * L + label[i]]),
                   e1 = exp((double)logits[i * L + 1] - logits[i * L + label[i]]);
            cr_assert(fabs(probs[i * L] - e0 / (e0 + e1)) < 1e-15);
            cr_assert(fabs(probs[i * L] + probs[i * L + 1] - 1) < 1e-15);
            cr_assert_eq(label[i], logits[i * L + 1] > logits[i * L] ? 1 : 0);
        }
        lb_classifier_close(c);
        lb_classifier_close(one);
    }
}

/* An adapter folder given as the model opens its base_model_name_or_path with the adapter. */
Test(api, adapter_folder_as_model) {
    char m[256], ad[256];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(ad, sizeof ad, "%s/distilbert_tiny-lora", tmp);
    lb_classifier *a = open_classifier(m, ad, 8), *b = open_classifier(ad, NULL, 8),
                  *base = open_classifier(m, NULL, 8);
    float za[10], zb[10], zbase[10];
    lb_error err = {0};
    cr_assert_eq(lb_classify(a, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, za, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_classify(b, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, zb, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_classify(base, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, zbase, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(memcmp(za, zb, sizeof za), 0, "adapter folder as model must equal model + adapter");
    cr_assert_neq(memcmp(za, zbase, sizeof za), 0, "the adapter must change the logits");
    lb_model_info info;
    lb_model_get_info(lb_classifier_model(b), &info);
    cr_assert(info.has_adapter);
    cr_assert_str_eq(info.adapter_dir, ad);
    cr_assert_str_eq(info.model_dir, m);
    cr_assert_eq(info.lora_r, 4);
    cr_assert_str_eq(info.architecture, "DistilBertForSequenceClassification");
    /* the adapter as model and an adapter given too: ambiguous */
    lb_classifier_options o = {.model = {.adapter = ad}};
    lb_classifier *c = NULL;
    cr_assert_eq(lb_classifier_open(ad, &o, &c, &err), LB_ERR_USAGE);
    cr_assert_null(c);
    cr_assert(strstr(err.msg, "adapter folder"), "%s", err.msg);
    lb_classifier_close(a);
    lb_classifier_close(b);
    lb_classifier_close(base);
}

/* Labels: options > adapter labels.json > config.json id2label (> LABEL_i). */
Test(api, label_resolution) {
    char m[256], ad[256], p[300];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(ad, sizeof ad, "%s/distilbert_tiny-lora", tmp);
    lb_classifier *c = open_classifier(m, ad, 8);
    cr_assert_str_eq(lb_classifier_label(c, 0), "Negative");
    cr_assert_str_eq(lb_classifier_label(c, 1), "Positive");
    cr_assert_null(lb_classifier_label(c, 2));
    cr_assert_null(lb_classifier_label(c, -1));
    lb_classifier_close(c);
    snprintf(p, sizeof p, "%s/labels.json", ad);
    write_text(p, "{\"id2label\": {\"0\": \"bad\", \"1\": \"fine\"}}");
    c = open_classifier(m, ad, 8);
    cr_assert_str_eq(lb_classifier_label(c, 1), "fine");
    lb_classifier_close(c);
    const char *names[] = {"no", "yes"};
    lb_classifier_options o = {.model = {.adapter = ad, .labels = names, .num_labels = 2}};
    lb_error err = {0};
    cr_assert_eq(lb_classifier_open(m, &o, &c, &err), LB_OK, "%s", err.msg);
    cr_assert_str_eq(lb_classifier_label(c, 0), "no");
    lb_classifier_close(c);
    /* a labels.json naming 3 classes for a 2-class head: the head's shape is refused by name */
    write_text(p, "{\"id2label\": {\"0\": \"a\", \"1\": \"b\", \"2\": \"c\"}}");
    lb_classifier_options o2 = {.model = {.adapter = ad}};
    c = NULL;
    cr_assert_neq(lb_classifier_open(m, &o2, &c, &err), LB_OK);
    cr_assert_null(c);
    cr_assert(strstr(err.msg, "classifier"), "%s", err.msg);
    /* broken labels.json: a format error naming the file */
    write_text(p, "{\"id2label\": ");
    cr_assert_eq(lb_classifier_open(m, &o2, &c, &err), LB_ERR_FORMAT);
    cr_assert(strstr(err.msg, "labels.json"), "%s", err.msg);
}

Test(api, open_errors_name_the_problem) {
    lb_classifier *c = NULL;
    lb_error err = {0};
    char missing[256];
    snprintf(missing, sizeof missing, "%s/nope", tmp);
    cr_assert_eq(lb_classifier_open(missing, NULL, &c, &err), LB_ERR_IO);
    cr_assert(strstr(err.msg, missing), "%s", err.msg);
    char m[256];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    lb_classifier_options o = {.model = {.adapter = m}}; /* a model folder is no adapter */
    cr_assert_eq(lb_classifier_open(m, &o, &c, &err), LB_ERR_IO);
    cr_assert(strstr(err.msg, "adapter_config.json"), "%s", err.msg);
    lb_classifier_options big = {.max_length = 65}; /* the tiny model has 64 positions */
    cr_assert_eq(lb_classifier_open(m, &big, &c, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "64 positions"), "%s", err.msg);
    cr_assert_null(c);
    /* NULL err is allowed */
    cr_assert_eq(lb_classifier_open(missing, NULL, &c, NULL), LB_ERR_IO);
}

Test(api, classify_errors) {
    char m[256];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    lb_classifier *c = open_classifier(m, NULL, 8);
    lb_error err = {0};
    const char *bad[] = {"fine", "\xff\xfe broken utf-8"};
    cr_assert_eq(lb_classify(c, bad, NULL, NULL, NULL, 2, NULL, NULL, NULL, &err), LB_ERR_FORMAT);
    cr_assert(!strncmp(err.msg, "text 1:", 7), "%s", err.msg);
    const char *withnull[] = {"fine", NULL};
    cr_assert_eq(lb_classify(c, withnull, NULL, NULL, NULL, 2, NULL, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_classify(c, NULL, NULL, NULL, NULL, 0, NULL, NULL, NULL, &err), LB_OK); /* nothing to do */
    const char *empty[] = {""};
    int32_t label = -1;
    cr_assert_eq(lb_classify(c, empty, NULL, NULL, NULL, 1, &label, NULL, NULL, &err), LB_OK, "%s", err.msg);
    cr_assert(label == 0 || label == 1);
    lb_classifier_close(c);
}

/* Pairs: type ids 0 then 1 from the tokenizer; BERT classifies a pair differently from its
 * first text alone. */
Test(api, pairs) {
    char m[256];
    snprintf(m, sizeof m, "%s/bert_tiny", tmp);
    lb_tokenizer *tok = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_tokenizer_open(m, &tok, &err), LB_OK, "%s", err.msg);
    lb_tokens t = {0};
    cr_assert_eq(lb_tokenizer_encode(tok, "it was good", 11, "not a fan", 9, NULL, &t, &err), LB_OK, "%s", err.msg);
    /* [CLS] it was good [SEP] not a fan [SEP] */
    cr_assert_eq(t.n, 9);
    int32_t want_types[] = {0, 0, 0, 0, 0, 1, 1, 1, 1};
    cr_assert_eq(memcmp(t.type_ids, want_types, sizeof want_types), 0);
    cr_assert_eq(t.ids[0], lb_tokenizer_token_to_id(tok, "[CLS]"));
    cr_assert_str_eq(lb_tokenizer_id_to_token(tok, t.ids[1]), "it");
    cr_assert_eq(lb_tokenizer_encode(tok, "it was good", 11, NULL, 0, NULL, &t, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(t.n, 5);
    for (int i = 0; i < t.n; i++) cr_assert_eq(t.type_ids[i], 0);
    lb_encode_options eo = {.max_length = 3, .no_special_tokens = true};
    cr_assert_eq(lb_tokenizer_encode(tok, "it was good .", 13, NULL, 0, &eo, &t, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(t.n, 3);
    cr_assert_str_eq(lb_tokenizer_id_to_token(tok, t.ids[0]), "it");
    lb_tokens_free(&t);
    lb_tokenizer_close(tok);

    lb_classifier *c = open_classifier(m, NULL, 8);
    const char *a[] = {"it was good", "it was good"}, *b[] = {"not a fan", NULL};
    float z[4];
    cr_assert_eq(lb_classify(c, a, NULL, b, NULL, 2, NULL, NULL, z, &err), LB_OK, "%s", err.msg);
    cr_assert(z[0] != z[2] || z[1] != z[3], "a pair must not equal its first text alone");
    float z1[2];
    cr_assert_eq(lb_classify(c, &a[1], NULL, NULL, NULL, 1, NULL, NULL, z1, &err), LB_OK, "%s", err.msg);
    cr_assert(fabsf(z1[0] - z[2]) <= 1e-5f * (1 + fabsf(z1[0])) && fabsf(z1[1] - z[3]) <= 1e-5f * (1 + fabsf(z1[1])));
    lb_classifier_close(c);
}

/* Saving the opened adapter and opening the saved folder as the model gives the same logits;
 * a folder inside the model folder is refused and nothing is written there. */
Test(api, save_adapter_round_trip) {
    char m[256], ad[256], out[256], inside[300];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(ad, sizeof ad, "%s/distilbert_tiny-lora", tmp);
    snprintf(out, sizeof out, "%s/saved", tmp);
    snprintf(inside, sizeof inside, "%s/distilbert_tiny/sub", tmp);
    lb_classifier *c = open_classifier(m, ad, 8);
    lb_error err = {0};
    cr_assert_eq(lb_model_save_adapter(lb_classifier_model(c), out, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_save_adapter(lb_classifier_model(c), inside, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "model folder"), "%s", err.msg);
    cr_assert_neq(access(inside, F_OK), 0, "nothing may be written inside the model folder");
    lb_classifier *s = open_classifier(out, NULL, 8);
    float z1[10], z2[10];
    cr_assert_eq(lb_classify(c, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, z1, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_classify(s, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, z2, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(memcmp(z1, z2, sizeof z1), 0);
    cr_assert_str_eq(lb_classifier_label(s, 1), "Positive");
    lb_classifier_close(s);
    /* merged: the same logits from a plain model folder */
    char merged[256];
    snprintf(merged, sizeof merged, "%s/merged", tmp);
    cr_assert_eq(lb_model_save_merged(lb_classifier_model(c), merged, &err), LB_OK, "%s", err.msg);
    lb_classifier *mm = open_classifier(merged, NULL, 8);
    cr_assert_eq(lb_classify(mm, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, z2, &err), LB_OK, "%s", err.msg);
    for (int i = 0; i < 10; i++)
        cr_assert(fabsf(z1[i] - z2[i]) <= 1e-5f * (1 + fabsf(z1[i])), "%d: %g vs %g", i, z1[i], z2[i]);
    lb_classifier_close(mm);
    lb_classifier_close(c);
}

Test(api, add_adapter) {
    char m[256];
    snprintf(m, sizeof m, "%s/bert_tiny", tmp);
    lb_model *model = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_model_open(m, NULL, &model, &err), LB_OK, "%s", err.msg);
    lb_model_info info;
    lb_model_get_info(model, &info);
    cr_assert(!info.has_adapter);
    cr_assert_eq(info.trainable_params, 0);
    lb_lora_options lo = {.target_modules = "query,value", .r = 2};
    cr_assert_eq(lb_model_add_adapter(model, &lo, &err), LB_OK, "%s", err.msg);
    lb_model_get_info(model, &info);
    cr_assert(info.has_adapter);
    cr_assert_eq(info.lora_r, 2);
    /* 2 layers x 2 targets x (A [2,32] + B [32,2]) + classifier [2,32] + [2] */
    cr_assert_eq(info.trainable_params, 2 * 2 * (64 + 64) + 66);
    cr_assert_eq(lb_model_add_adapter(model, &lo, &err), LB_ERR_USAGE);
    lb_lora_options bad = {.target_modules = "q_proj"};
    lb_model_close(model);
    cr_assert_eq(lb_model_open(m, NULL, &model, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_add_adapter(model, &bad, &err), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(err.msg, "q_proj"), "%s", err.msg);
    lb_model_close(model);
}

Test(api, describe) {
    char m[256], ad[256];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(ad, sizeof ad, "%s/distilbert_tiny-lora", tmp);
    char *j = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_describe(m, &j, &err), LB_OK, "%s", err.msg);
    cr_assert(strstr(j, "\"kind\":\"model\"") && strstr(j, "\"labels\":[\"Negative\",\"Positive\"]"), "%s", j);
    lb_free(j);
    cr_assert_eq(lb_describe(ad, &j, &err), LB_OK, "%s", err.msg);
    cr_assert(strstr(j, "\"kind\":\"adapter\"") && strstr(j, "\"r\":4"), "%s", j);
    lb_free(j);
    cr_assert_eq(lb_describe(tmp, &j, &err), LB_ERR_IO);
    cr_assert_null(j);
    cr_assert(strstr(err.msg, "not a model or adapter folder"), "%s", err.msg);
}

Test(api, status_and_precision_names) {
    cr_assert_str_eq(lb_precision_name(LB_PRECISION_BF16), "bf16");
    lb_precision p;
    cr_assert(lb_precision_parse("fp32", &p) && p == LB_PRECISION_FP32);
    cr_assert(!lb_precision_parse("fp16", &p));
    for (int s = LB_OK; s <= LB_ERR_INTERRUPTED; s++) cr_assert_not_null(lb_status_name((lb_status)s));
}

/* Pre-tokenized rows give the logits lb_classify gives for the same texts; bad rows are refused. */
Test(api, predict_tokens) {
    char m[256];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    lb_classifier *c = open_classifier(m, NULL, 8);
    const lb_tokenizer *tok = lb_classifier_tokenizer(c);
    lb_error err = {0};
    lb_tokens t0 = {0}, t1 = {0};
    cr_assert_eq(lb_tokenizer_encode(tok, seed_texts[0], strlen(seed_texts[0]), NULL, 0, NULL, &t0, &err), LB_OK);
    cr_assert_eq(lb_tokenizer_encode(tok, seed_texts[3], strlen(seed_texts[3]), NULL, 0, NULL, &t1, &err), LB_OK);
    int T = t0.n > t1.n ? t0.n : t1.n;
    int32_t ids[64] = {0}, lengths[2] = {t0.n, t1.n};
    memcpy(ids, t0.ids, (size_t)t0.n * sizeof *ids);
    memcpy(ids + T, t1.ids, (size_t)t1.n * sizeof *ids);
    float z[4], want[10];
    lb_model *model = lb_classifier_model(c);
    cr_assert_eq(lb_model_predict_tokens(model, ids, lengths, NULL, 2, T, z, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_classify(c, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, want, &err), LB_OK, "%s", err.msg);
    for (int k = 0; k < 2; k++) {
        cr_assert(fabsf(z[k] - want[k]) <= 1e-5f * (1 + fabsf(want[k])));
        cr_assert(fabsf(z[2 + k] - want[6 + k]) <= 1e-5f * (1 + fabsf(want[6 + k])));
    }
    ids[1] = 120; /* the tiny vocabulary has 120 entries */
    cr_assert_eq(lb_model_predict_tokens(model, ids, lengths, NULL, 2, T, z, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "row 0 position 1") && strstr(err.msg, "vocabulary"), "%s", err.msg);
    int32_t bad_len[2] = {0, 1};
    cr_assert_eq(lb_model_predict_tokens(model, ids, bad_len, NULL, 2, T, z, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_model_predict_tokens(model, ids, lengths, NULL, 2, 65, z, &err), LB_ERR_USAGE);
    lb_tokens_free(&t0);
    lb_tokens_free(&t1);
    lb_classifier_close(c);
}

/* lb_lora_options_check alone; lb_model_add_adapter also checks the names against the model. */
Test(api, lora_options_and_architecture_targets) {
    lb_error err = {0};
    cr_assert_eq(lb_lora_options_check(NULL, &err), LB_OK);
    cr_assert_eq(lb_lora_options_check(&(lb_lora_options){.target_modules = "query,v_lin,all-linear"}, &err), LB_OK);
    cr_assert_eq(lb_lora_options_check(&(lb_lora_options){.target_modules = "c_attn"}, &err), LB_ERR_UNSUPPORTED);
    cr_assert(strstr(err.msg, "target module 'c_attn' is not supported"), "%s", err.msg);
    cr_assert_eq(lb_lora_options_check(&(lb_lora_options){.target_modules = "q_lin,,v_lin"}, &err), LB_ERR_UNSUPPORTED);
    cr_assert_eq(lb_lora_options_check(&(lb_lora_options){.target_modules = ""}, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_lora_options_check(&(lb_lora_options){.r = 5000}, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_lora_options_check(&(lb_lora_options){.dropout = 1}, &err), LB_ERR_USAGE);
    char m[256];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    lb_model *model = NULL;
    cr_assert_eq(lb_model_open(m, NULL, &model, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_add_adapter(model, &(lb_lora_options){.target_modules = "q_lin,query"}, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "target module 'query' is not a linear layer of this model (q_lin, v_lin, ...)"), "%s",
              err.msg);
    lb_model_info info;
    lb_model_get_info(model, &info);
    cr_assert(!info.has_adapter, "a refused adapter changes nothing");
    /* dotted paths and all-linear are PEFT suffixes, not this architecture's short names */
    cr_assert_eq(lb_model_add_adapter(model, &(lb_lora_options){.target_modules = "q_lin,all-linear"}, &err), LB_OK,
                 "%s", err.msg);
    lb_model_close(model);
}

/* The adapter weights (LoRA A from the seed) of a fresh adapter on the tiny model. */
static char *lora_weights(const lb_lora_options *lo, const char *name, size_t *len) {
    char m[256], out[300], file[400];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(out, sizeof out, "%s/seed_%s", tmp, name);
    snprintf(file, sizeof file, "%s/adapter_model.safetensors", out);
    lb_model *model = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_model_open(m, NULL, &model, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_add_adapter(model, lo, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_save_adapter(model, out, &err), LB_OK, "%s", err.msg);
    lb_model_close(model);
    return slurp_file(file, len);
}

/* One seed rule: non-zero as given, 0 means 42 unless seed_set. */
Test(api, seed_rule) {
    size_t n0, n42, nz, n5a, n5b;
    char *zero_init = lora_weights(&(lb_lora_options){0}, "zinit", &n0);
    char *s42 = lora_weights(&(lb_lora_options){.seed = 42}, "s42", &n42);
    char *s0 = lora_weights(&(lb_lora_options){.seed = 0, .seed_set = true}, "s0", &nz);
    char *s5a = lora_weights(&(lb_lora_options){.seed = 5}, "s5a", &n5a);
    char *s5b = lora_weights(&(lb_lora_options){.seed = 5, .seed_set = true}, "s5b", &n5b);
    cr_assert(n0 == n42 && !memcmp(zero_init, s42, n0), "zero-initialised options mean seed 42");
    cr_assert(n0 == nz && memcmp(zero_init, s0, n0), "seed 0 with seed_set is not 42");
    cr_assert(n5a == n5b && !memcmp(s5a, s5b, n5a), "a non-zero seed needs no seed_set");
    free(zero_init);
    free(s42);
    free(s0);
    free(s5a);
    free(s5b);
    lb_train_options o;
    lb_train_options_init(&o);
    cr_assert(o.seed == 42 && o.seed_set);
}

/* Datasets name their files; lb_dataset_classes names where the known names come from. */
Test(api, dataset_file_and_classes_origin) {
    char p[256];
    snprintf(p, sizeof p, "%s/str.csv", tmp);
    write_text(p, "label,text\nneg,it was not good\npos,it was good\n");
    lb_dataset *d = NULL;
    lb_error err = {0};
    cr_assert_eq(lb_dataset_open(p, NULL, &d, &err), LB_OK, "%s", err.msg);
    cr_assert_str_eq(lb_dataset_file(d, 0), p);
    cr_assert_null(lb_dataset_file(d, 1));
    cr_assert_null(lb_dataset_file(d, -1));
    const lb_dataset *ds[1] = {d};
    const char *const names[] = {"Negative", "Positive"};
    char **classes = NULL;
    int n = 0;
    bool sorted = false;
    cr_assert_eq(lb_dataset_classes(ds, 1, names, 2, false, "--labels", &classes, &n, &sorted, &err), LB_ERR_FORMAT);
    cr_assert(strstr(err.msg, "(the known labels, from --labels, are \"Negative\", \"Positive\")"), "%s", err.msg);
    cr_assert_eq(lb_dataset_classes(ds, 1, names, 2, false, NULL, &classes, &n, &sorted, &err), LB_ERR_FORMAT);
    cr_assert(strstr(err.msg, "from the given label names"), "%s", err.msg);
    cr_assert_eq(lb_dataset_classes(ds, 1, names, 2, true, NULL, &classes, &n, &sorted, &err), LB_OK, "%s", err.msg);
    cr_assert(sorted && n == 2 && !strcmp(classes[0], "neg") && !strcmp(classes[1], "pos"));
    lb_free_strings(classes);
    lb_dataset_close(d);
}

static bool exists(const char *path) {
    struct stat sb;
    return lstat(path, &sb) == 0;
}

/* An output folder taken before the run: locked (a second taker is refused), not created until
 * the run opens, used by one run only, and only with the options it was taken with. */
Test(api, train_output_taken_first) {
    char m[256], out[300], lock[300], data[300];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(out, sizeof out, "%s/run", tmp);
    snprintf(lock, sizeof lock, "%s/.run.lock", tmp);
    snprintf(data, sizeof data, "%s/d.csv", tmp);
    write_text(data, "label,text\n0,it was not good\n1,it was good\n0,not a fan\n1,better than the first one\n");
    lb_error err = {0};
    lb_train_options o;
    lb_train_options_init(&o);
    lb_train_output *taken = NULL, *again = NULL;
    cr_assert_eq(lb_train_output_open(&o, &taken, &err), LB_ERR_USAGE, "no output_dir");
    cr_assert_null(taken);
    o.output_dir = out;
    o.num_train_epochs = 1;
    cr_assert_eq(lb_train_output_open(&o, &taken, &err), LB_OK, "%s", err.msg);
    cr_assert(exists(lock) && !exists(out), "the lock is taken, the folder not yet created");
    cr_assert_eq(lb_train_output_open(&o, &again, &err), LB_ERR_IO);
    cr_assert(strstr(err.msg, "pid"), "%s", err.msg);
    cr_assert_null(again);

    lb_model *model = NULL;
    lb_dataset *d = NULL;
    cr_assert_eq(lb_model_open(m, NULL, &model, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_add_adapter(model, NULL, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_dataset_open(data, NULL, &d, &err), LB_OK, "%s", err.msg);
    lb_train_run *r = NULL;
    lb_train_options other = o;
    other.output = taken;
    other.overwrite_output_dir = true;
    cr_assert_eq(lb_train_run_open(model, d, NULL, &other, NULL, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "taken with another"), "%s", err.msg);
    cr_assert(!exists(out));
    o.output = taken;
    cr_assert_eq(lb_train_run_open(model, d, NULL, &o, NULL, &r, &err), LB_OK, "%s", err.msg);
    cr_assert(exists(out), "the run creates the folder");
    lb_train_result res;
    cr_assert_eq(lb_train_run_all(r, &res, &err), LB_OK, "%s", err.msg);
    lb_train_run_close(r);
    char file[400];
    snprintf(file, sizeof file, "%s/adapter_model.safetensors", out);
    cr_assert(exists(file) && exists(lock), "the result is written; the lock is held until the output is closed");
    r = NULL;
    cr_assert_eq(lb_train_run_open(model, d, NULL, &o, NULL, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "already used"), "%s", err.msg);
    lb_train_output_close(taken);
    cr_assert(!exists(lock));
    /* the folder now holds a run: taking it again without overwrite is refused up front */
    o.output = NULL;
    cr_assert_eq(lb_train_output_open(&o, &taken, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "not empty"), "%s", err.msg);
    o.overwrite_output_dir = true;
    cr_assert_eq(lb_train_output_open(&o, &taken, &err), LB_OK, "%s", err.msg);
    lb_train_output_close(taken);
    lb_train_output_close(NULL);
    lb_dataset_close(d);
    lb_model_close(model);
}

/* A NULL handle or output pointer the header does not allow is LB_ERR_USAGE naming the function
 * and argument (it crashed: every open with out NULL, every call with its handle NULL); accessors
 * give their "nothing" value. */
Test(api, null_arguments_are_refused_not_crashed) {
    char m[256], data[300];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(data, sizeof data, "%s/n.csv", tmp);
    write_text(data, "label,text\n0,it was not good\n1,it was good\n");
    lb_error err = {0};
    cr_assert_eq(lb_classifier_open(m, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_str_eq(err.msg, "lb_classifier_open: out is NULL");
    cr_assert_eq(lb_model_open(m, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_tokenizer_open(m, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_dataset_open(data, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_model_resolve(m, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_describe(m, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_hub_download("org/x", false, NULL, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_train_output_open(NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_train_run_open(NULL, NULL, NULL, NULL, NULL, NULL, &err), LB_ERR_USAGE);
    const char *one[] = {"it was good"};
    cr_assert_eq(lb_classify(NULL, one, NULL, NULL, NULL, 1, NULL, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_str_eq(err.msg, "lb_classify: c is NULL");
    int32_t ids[3] = {2, 5, 3}, len[1] = {3};
    float z[2];
    cr_assert_eq(lb_model_predict_tokens(NULL, ids, len, NULL, 1, 3, z, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_model_save_adapter(NULL, tmp, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_model_save_merged(NULL, tmp, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_model_set_precision(NULL, LB_PRECISION_BF16, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_evaluate_dataset(NULL, NULL, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_train_step(NULL, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_train_step_batch(NULL, ids, len, NULL, 1, 3, ids, NULL, &err), LB_ERR_USAGE);
    cr_assert_eq(lb_train_run_all(NULL, NULL, &err), LB_ERR_USAGE);
    lb_tokens t = {0};
    cr_assert_eq(lb_tokenizer_encode(NULL, "a", 1, NULL, 0, NULL, &t, &err), LB_ERR_USAGE);
    lb_precision p;
    cr_assert(!lb_precision_parse("fp32", NULL) && !lb_precision_parse(NULL, &p));
    lb_model_info info;
    memset(&info, 0xff, sizeof info);
    lb_model_get_info(NULL, &info);
    cr_assert(info.num_labels == 0 && !info.labels && !info.has_adapter);
    cr_assert_null(lb_classifier_model(NULL));
    cr_assert_null(lb_classifier_tokenizer(NULL));
    cr_assert_eq(lb_classifier_num_labels(NULL), 0);
    cr_assert_null(lb_classifier_label(NULL, 0));
    cr_assert_eq(lb_dataset_size(NULL), 0);
    cr_assert_null(lb_dataset_text(NULL, 0));
    cr_assert_eq(lb_dataset_label(NULL, 0), -1);
    cr_assert_eq(lb_dataset_num_labels(NULL), 0);
    cr_assert_null(lb_dataset_file(NULL, 0));
    lb_train_options_init(NULL);

    lb_classifier *c = open_classifier(m, NULL, 8);
    lb_dataset *d = NULL;
    cr_assert_eq(lb_dataset_open(data, NULL, &d, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_evaluate_dataset(c, d, NULL, NULL, &err), LB_ERR_USAGE);
    cr_assert_str_eq(err.msg, "lb_evaluate_dataset: out is NULL");
    cr_assert_eq(lb_tokenizer_encode(lb_classifier_tokenizer(c), "a", 1, NULL, 0, NULL, NULL, &err), LB_ERR_USAGE);
    const lb_dataset *ds[1] = {d};
    char **classes = NULL;
    cr_assert_eq(lb_dataset_classes(ds, 1, NULL, 0, false, NULL, &classes, NULL, NULL, &err), LB_ERR_USAGE);
    /* a NULL or empty entry among the names: refused by index, not taken as "" */
    int n = 0;
    const char *const holes[] = {"neg", NULL};
    cr_assert_eq(lb_dataset_classes(ds, 1, holes, 2, false, NULL, &classes, &n, NULL, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "name 1 is empty"), "%s", err.msg);
    lb_dataset_close(d);
    lb_classifier_close(c);
}

/* A refused merge target changes nothing: the model keeps its adapter (it was merged first and
 * then refused, leaving a merged model with nothing written). */
Test(api, refused_merge_keeps_the_adapter) {
    char m[256], ad[256], out[300];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(ad, sizeof ad, "%s/distilbert_tiny-lora", tmp);
    snprintf(out, sizeof out, "%s/merged_ok", tmp);
    lb_classifier *c = open_classifier(m, ad, 8);
    lb_model *model = lb_classifier_model(c);
    lb_error err = {0};
    float before[10], after[10];
    cr_assert_eq(lb_classify(c, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, before, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_save_merged(model, m, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "is the model folder"), "%s", err.msg);
    cr_assert_eq(lb_model_save_merged(model, NULL, &err), LB_ERR_USAGE);
    lb_model_info info;
    lb_model_get_info(model, &info);
    cr_assert(info.has_adapter, "a refused merge must leave the adapter in place");
    /* so the adapter can still be saved, and a merge to a good folder still works */
    char saved[300];
    snprintf(saved, sizeof saved, "%s/saved_after_refusal", tmp);
    cr_assert_eq(lb_model_save_adapter(model, saved, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_save_merged(model, out, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_classify(c, seed_texts, NULL, NULL, NULL, 5, NULL, NULL, after, &err), LB_OK, "%s", err.msg);
    for (int i = 0; i < 10; i++)
        cr_assert(fabsf(before[i] - after[i]) <= 1e-5f * (1 + fabsf(before[i])), "%d: %g vs %g", i, before[i],
                  after[i]);
    lb_classifier_close(c);
}

/* One open run per model: a second run (its steps would interleave on the same adapter) and a
 * merge or new adapter under a run (which frees the parameters the run steps) are refused. */
Test(api, one_training_run_per_model) {
    char m[256], data[300], out[300];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    snprintf(data, sizeof data, "%s/r.csv", tmp);
    snprintf(out, sizeof out, "%s/merged_in_run", tmp);
    write_text(data, "label,text\n0,it was not good\n1,it was good\n");
    lb_error err = {0};
    lb_model *model = NULL;
    lb_dataset *d = NULL;
    cr_assert_eq(lb_model_open(m, NULL, &model, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_add_adapter(model, NULL, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_dataset_open(data, NULL, &d, &err), LB_OK, "%s", err.msg);
    lb_train_options o;
    lb_train_options_init(&o);
    o.num_train_epochs = 1;
    lb_train_run *r = NULL, *r2 = NULL;
    cr_assert_eq(lb_train_run_open(model, d, NULL, &o, NULL, &r, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_train_run_open(model, d, NULL, &o, NULL, &r2, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "already being trained"), "%s", err.msg);
    cr_assert_null(r2);
    cr_assert_eq(lb_model_save_merged(model, out, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "training run holds the model"), "%s", err.msg);
    cr_assert_neq(access(out, F_OK), 0);
    lb_train_result res;
    cr_assert_eq(lb_train_run_all(r, &res, &err), LB_OK, "%s", err.msg);
    lb_train_run_close(r);
    /* closed: the model is free again */
    cr_assert_eq(lb_train_run_open(model, d, NULL, &o, NULL, &r2, &err), LB_OK, "%s", err.msg);
    lb_train_run_close(r2);
    cr_assert_eq(lb_model_save_merged(model, out, &err), LB_OK, "%s", err.msg);
    lb_dataset_close(d);
    lb_model_close(model);
}

/* threads: 0..4096 (libgomp aborts the whole process when it cannot create a team of 100000);
 * num_labels: 0..64, a negative count is not "the default". */
Test(api, thread_and_label_counts_out_of_range) {
    char m[256];
    snprintf(m, sizeof m, "%s/distilbert_tiny", tmp);
    lb_error err = {0};
    lb_classifier *c = NULL;
    const int bad_threads[] = {-1, 4097, 100000};
    for (int i = 0; i < 3; i++) {
        lb_classifier_options o = {.threads = bad_threads[i]};
        cr_assert_eq(lb_classifier_open(m, &o, &c, &err), LB_ERR_USAGE, "threads %d", bad_threads[i]);
        cr_assert(strstr(err.msg, "threads"), "%s", err.msg);
        cr_assert_null(c);
    }
    lb_model *model = NULL;
    lb_train_options to;
    lb_train_options_init(&to);
    to.threads = 100000;
    to.max_steps = 1;
    cr_assert_eq(lb_model_open(m, NULL, &model, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(lb_model_add_adapter(model, NULL, &err), LB_OK, "%s", err.msg);
    lb_train_run *r = NULL;
    cr_assert_eq(lb_train_run_open(model, NULL, NULL, &to, NULL, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "threads"), "%s", err.msg);
    lb_model_close(model);
    lb_model_options mo = {.num_labels = -1};
    model = NULL;
    cr_assert_eq(lb_model_open(m, &mo, &model, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "num_labels -1"), "%s", err.msg);
    cr_assert_null(model);
}

/* Data-parallel reading: a shard keeps blocks shard_index, shard_index + count, ... of shard_block
 * rows, over CSV and JSONL alike; the shards of a file are its rows, each once; a shard with no
 * rows and a bad shard index are refused. */
Test(api, dataset_shards) {
    const char *const ext[] = {"csv", "jsonl"};
    for (int e = 0; e < 2; e++) {
        char p[256];
        snprintf(p, sizeof p, "%s/shard.%s", tmp, ext[e]);
        FILE *f = fopen(p, "w");
        cr_assert_not_null(f);
        if (!e) fprintf(f, "text,label\n");
        for (int i = 0; i < 23; i++) /* 23 rows: blocks of 4, the last of 3 */
            if (e) fprintf(f, "{\"text\": \"row %d\"%s}\n", i, i % 5 ? ", \"label\": 1" : ", \"label\": 0");
            else fprintf(f, "row %d,%d\n", i, i % 5 ? 1 : 0);
        fclose(f);
        lb_error err = {0};
        int seen[23] = {0}, total = 0;
        for (int r = 0; r < 3; r++) {
            lb_dataset_options o = {.shard_count = 3, .shard_index = r, .shard_block = 4};
            lb_dataset *d = NULL;
            cr_assert_eq(lb_dataset_open(p, &o, &d, &err), LB_OK, "%s", err.msg);
            for (size_t i = 0; i < lb_dataset_size(d); i++) {
                int row = -1;
                cr_assert_eq(sscanf(lb_dataset_text(d, i), "row %d", &row), 1);
                cr_assert_eq((row / 4) % 3, r, "%s: shard %d holds row %d", p, r, row);
                cr_assert_eq(lb_dataset_label(d, i), row % 5 ? 1 : 0);
                seen[row]++;
                total++;
            }
            lb_dataset_close(d);
        }
        cr_assert_eq(total, 23);
        for (int i = 0; i < 23; i++) cr_assert_eq(seen[i], 1, "row %d read %d times", i, seen[i]);
        lb_dataset_options bad = {.shard_count = 3, .shard_index = 3, .shard_block = 4};
        lb_dataset *d = NULL;
        cr_assert_eq(lb_dataset_open(p, &bad, &d, &err), LB_ERR_USAGE);
        lb_dataset_options empty = {.shard_count = 8, .shard_index = 7, .shard_block = 4}; /* 6 blocks */
        cr_assert_eq(lb_dataset_open(p, &empty, &d, &err), LB_ERR_USAGE);
        cr_assert(strstr(err.msg, "none of its 23 rows falls to process 7 of 8"), "%s", err.msg);
    }
}
