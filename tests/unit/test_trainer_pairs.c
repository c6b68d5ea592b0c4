/* Trainer batches of sentence pairs (lb_tokset_add_pair / token_type_ids) vs transformers' BERT.
 * Its own binary: one long test that shells out to the reference env (criterion's parallel
 * runner leaked in its parent when this ran beside test_trainer's long tests under ASan). */
#include <criterion/criterion.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "base/rng.h"
#include "train/trainer.h"

/* Sentence pairs: token_type_ids reach BERT (pair logits differ from the same ids as one text)
 * and equal transformers' BertForSequenceClassification on the padded batch (reference env;
 * required under CI=true). */
Test(trainer, pair_batches_match_transformers_bert, .timeout = 300) {
    const char *dir = "tests/golden/bert_tiny/model";
    if (!lb_dir_exists(dir)) cr_skip_test("golden %s missing", dir);
    lb_load_opts lo = {.quiet = true};
    lb_error err;
    lb_model *m = lb_model_load(dir, &lo, &err);
    cr_assert_not_null(m, "%s", err.msg);
    enum { N = 5 };
    lb_tokset pairs = {0}, single = {0};
    lb_rng r;
    lb_rng_seed(&r, 11);
    int32_t all_ids[N][48], all_len[N], all_start[N];
    for (int i = 0; i < N; i++) {
        int la = 1 + (int)lb_rng_below(&r, 20), lb = 1 + (int)lb_rng_below(&r, 20), n = 0;
        int32_t *ids = all_ids[i];
        ids[n++] = 2;
        for (int t = 0; t < la; t++) ids[n++] = 5 + (int32_t)lb_rng_below(&r, 110);
        ids[n++] = 3;
        all_start[i] = n;
        for (int t = 0; t < lb; t++) ids[n++] = 5 + (int32_t)lb_rng_below(&r, 110);
        ids[n++] = 3;
        all_len[i] = n;
        cr_assert_eq(lb_tokset_add_pair(&pairs, ids, n, all_start[i], i & 1, &err), LB_OK, "%s", err.msg);
        cr_assert_eq(lb_tokset_add_pair(&single, ids, n, n, i & 1, &err), LB_OK, "%s", err.msg);
    }
    cr_assert(pairs.has_pairs && !single.has_pairs);
    cr_assert_neq(lb_tokset_add_pair(&single, all_ids[0], 3, 4, 0, &err), LB_OK, "type start past the end");
    float lp[N * 2], ls[N * 2];
    lb_eval_result res;
    cr_assert_eq(lb_evaluate(m, &pairs, 3, NULL, &res, lp, &err), LB_OK, "%s", err.msg); /* padded batches of 3 + 2 */
    cr_assert_eq(lb_evaluate(m, &single, 3, NULL, &res, ls, &err), LB_OK, "%s", err.msg);
    float diff = 0;
    for (int i = 0; i < N * 2; i++) diff = fmaxf(diff, fabsf(lp[i] - ls[i]));
    cr_assert(diff > 1e-4f, "token types must change BERT's logits (max diff %g)", diff);

    const char *envdir = getenv("LORABERT_REF_ENV"), *home = getenv("HOME"), *ci = getenv("CI");
    char env[400], py[512], stamp[512];
    snprintf(env, sizeof env, "%s", envdir && *envdir ? envdir : "");
    if (!*env) snprintf(env, sizeof env, "%s/.cache/lorabert/refenv", home ? home : "/root");
    snprintf(py, sizeof py, "%s/bin/python", env);
    snprintf(stamp, sizeof stamp, "%s/.lorabert-pins", env);
    if (access(py, X_OK) || access(stamp, R_OK)) {
        cr_assert(!(ci && !strcmp(ci, "true")), "CI=true but the reference environment %s is absent", py);
        lb_tokset_free(&pairs);
        lb_tokset_free(&single);
        lb_model_free(m);
        cr_skip_test("reference environment absent (tools/reference/setup_env.sh): transformers pair check not run");
    }
    char tmpl[] = "/tmp/lbpairXXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    char *in = lb_path_join(tmpl, "in.json");
    FILE *f = fopen(in, "w");
    cr_assert_not_null(f);
    fprintf(f, "{\"rows\": [");
    for (int i = 0; i < N; i++) {
        fprintf(f, "%s{\"ids\": [", i ? ", " : "");
        for (int t = 0; t < all_len[i]; t++) fprintf(f, "%s%d", t ? ", " : "", all_ids[i][t]);
        fprintf(f, "], \"start\": %d}", all_start[i]);
    }
    fprintf(f, "], \"ours\": [");
    for (int i = 0; i < N * 2; i++) fprintf(f, "%s%.9g", i ? ", " : "", lp[i]);
    fprintf(f, "]}\n");
    fclose(f);
    char cmd[4096];
    snprintf(
        cmd, sizeof cmd,
        "%s -W ignore - %s %s >%s/diff.txt 2>&1 <<'PYEOF'\n"
        "import sys, json, torch\n"
        "from transformers import BertForSequenceClassification\n"
        "model, inp = sys.argv[1:3]\n"
        "d = json.load(open(inp))\n"
        "m = BertForSequenceClassification.from_pretrained(model).eval()\n"
        "out = []\n"
        "for b in range(0, len(d['rows']), 3):\n"
        "    rows = d['rows'][b:b+3]; T = max(len(r['ids']) for r in rows)\n"
        "    ids = torch.tensor([r['ids'] + [0] * (T - len(r['ids'])) for r in rows])\n"
        "    am = torch.tensor([[1] * len(r['ids']) + [0] * (T - len(r['ids'])) for r in rows])\n"
        "    tt = torch.tensor([[0] * r['start'] + [1] * (len(r['ids']) - r['start']) + [0] * (T - len(r['ids'])) for r in rows])\n"
        "    with torch.no_grad(): out += m(input_ids=ids, attention_mask=am, token_type_ids=tt).logits.flatten().tolist()\n"
        "diff = max(abs(a - b) for a, b in zip(out, d['ours']))\n"
        "print('pair logits max |diff| vs transformers: %%.3g' %% diff)\n"
        "sys.exit(0 if diff <= 1e-5 else 3)\n"
        "PYEOF",
        py, dir, in, tmpl);
    int rc = system(cmd);
    char *dp = lb_path_join(tmpl, "diff.txt"), *said = NULL;
    size_t said_len = 0;
    if (lb_read_file(dp, &said, &said_len, NULL) == LB_OK) {
        while (said_len && (said[said_len - 1] == '\n')) said[--said_len] = 0;
        cr_log_info("%s", said_len > 400 ? said + said_len - 400 : said);
    }
    free(dp);
    free(said);
    char rm[600];
    snprintf(rm, sizeof rm, "rm -rf '%s'", tmpl);
    cr_assert_eq(system(rm), 0);
    free(in);
    lb_tokset_free(&pairs);
    lb_tokset_free(&single);
    lb_model_free(m);
    cr_assert_eq(rc, 0, "pair logits differ from transformers (or python failed), rc %d", rc);
}
