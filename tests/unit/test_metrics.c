/* Tests for src/train/metrics against scikit-learn (tests/golden/metrics/sklearn.json, written
 * by tools/reference/metrics_golden.py; where sklearn 1.3 has its tp==0 F1 bug the golden holds
 * the sklearn >= 1.4 formula and says so). */
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "train/metrics.h"

static void near(double got, double want, const char *what, const char *name) {
    cr_assert(fabs(got - want) <= 1e-12 || (isnan(got) && isnan(want)), "%s %s: %.17g vs sklearn %.17g", name, what,
              got, want);
}

Test(metrics, argmax_ties_and_nan_like_numpy) {
    float a[4] = {1, 3, 3, 2};
    cr_assert_eq(lb_argmax(a, 4), 1);
    float b[3] = {1, NAN, 5};
    cr_assert_eq(lb_argmax(b, 3), 1);
}

/* The confusion matrix of predictions against labels, as the evaluation loop fills it. */
static lb_status metrics_of(const int32_t *pred, const int32_t *labels, int n, int L, double zd, lb_metrics *m,
                            lb_error *err) {
    int64_t confusion[LB_METRICS_MAX_LABELS * LB_METRICS_MAX_LABELS] = {0};
    for (int i = 0; i < n; i++) confusion[labels[i] * L + pred[i]]++;
    memset(m, 0, sizeof *m);
    return lb_metrics_from_confusion(confusion, L, zd, m, err);
}

Test(metrics, zero_division_nan) {
    int32_t pred[2] = {0, 0}, lab[2] = {0, 0};
    lb_metrics m;
    cr_assert_eq(metrics_of(pred, lab, 2, 2, NAN, &m, NULL), LB_OK);
    cr_assert(isnan(m.precision) && isnan(m.recall) && isnan(m.f1));
    cr_assert_eq(m.accuracy, 1.0);
}

Test(metrics, match_sklearn) {
    char *text;
    size_t len;
    lb_error err;
    cr_assert_eq(lb_read_file("tests/golden/metrics/sklearn.json", &text, &len, &err), LB_OK, "%s", err.msg);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    const cJSON *c;
    int ncases = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        int L = cJSON_GetObjectItem(c, "num_labels")->valueint;
        double zd = cJSON_GetObjectItem(c, "zero_division")->valuedouble;
        const cJSON *jl = cJSON_GetObjectItem(c, "logits"), *jy = cJSON_GetObjectItem(c, "labels");
        int n = cJSON_GetArraySize(jy);
        float *logits = malloc(sizeof(float) * n * L);
        int32_t *y = malloc(sizeof(int32_t) * n), *pred = malloc(sizeof(int32_t) * n);
        for (int i = 0; i < n * L; i++) logits[i] = (float)cJSON_GetArrayItem(jl, i)->valuedouble;
        for (int i = 0; i < n; i++) {
            y[i] = cJSON_GetArrayItem(jy, i)->valueint;
            pred[i] = lb_argmax(logits + i * L, L);
            cr_assert_eq(pred[i], cJSON_GetArrayItem(cJSON_GetObjectItem(c, "pred"), i)->valueint, "%s argmax row %d",
                         name, i);
        }
        lb_metrics m;
        cr_assert_eq(metrics_of(pred, y, n, L, zd, &m, &err), LB_OK, "%s: %s", name, err.msg);
        cr_assert_eq(m.n, n);
        near(m.accuracy, cJSON_GetObjectItem(c, "accuracy")->valuedouble, "accuracy", name);
        near(m.precision, cJSON_GetObjectItem(c, "precision")->valuedouble, "precision", name);
        near(m.recall, cJSON_GetObjectItem(c, "recall")->valuedouble, "recall", name);
        near(m.f1, cJSON_GetObjectItem(c, "f1")->valuedouble, "f1", name);
        for (int k = 0; k < L; k++) {
            near(m.class_precision[k], cJSON_GetArrayItem(cJSON_GetObjectItem(c, "class_precision"), k)->valuedouble,
                 "class precision", name);
            near(m.class_recall[k], cJSON_GetArrayItem(cJSON_GetObjectItem(c, "class_recall"), k)->valuedouble,
                 "class recall", name);
            near(m.class_f1[k], cJSON_GetArrayItem(cJSON_GetObjectItem(c, "class_f1"), k)->valuedouble, "class f1",
                 name);
        }
        for (int k = 0; k < L * L; k++)
            cr_assert_eq(m.confusion[k], cJSON_GetArrayItem(cJSON_GetObjectItem(c, "confusion"), k)->valueint,
                         "%s confusion[%d]", name, k);
        free(logits);
        free(y);
        free(pred);
        ncases++;
    }
    cr_assert_eq(ncases, 20);
    cJSON_Delete(root);
}

static double num_at(const cJSON *c, const char *key, int i) {
    return cJSON_GetArrayItem(cJSON_GetObjectItem(c, key), i)->valuedouble;
}

/* Multi-label (sklearn) and regression (sklearn, scipy) metrics: tests/golden/metrics/task.json,
 * written by tools/reference/task_golden.py. */
Test(metrics, multilabel_and_regression_match_sklearn_scipy) {
    char *text;
    size_t len;
    lb_error err;
    cr_assert_eq(lb_read_file("tests/golden/metrics/task.json", &text, &len, &err), LB_OK, "%s", err.msg);
    cJSON *root = cJSON_Parse(text);
    free(text);
    cr_assert_not_null(root);
    const cJSON *c;
    int nml = 0, nreg = 0;
    cJSON_ArrayForEach(c, cJSON_GetObjectItem(root, "cases")) {
        const char *name = cJSON_GetObjectItem(c, "name")->valuestring;
        lb_eval_result r;
        memset(&r, 0, sizeof r);
        if (!strcmp(cJSON_GetObjectItem(c, "kind")->valuestring, "multilabel")) {
            const int n = cJSON_GetObjectItem(c, "n")->valueint, L = cJSON_GetObjectItem(c, "L")->valueint;
            const double thr = cJSON_GetObjectItem(c, "threshold")->valuedouble;
            float *z = malloc(sizeof(float) * n * L), *t = malloc(sizeof(float) * n * L);
            for (int i = 0; i < n * L; i++) z[i] = (float)num_at(c, "logits", i), t[i] = (float)num_at(c, "targets", i);
            lb_multilabel_metrics(z, t, n, L, thr, &r);
            cr_assert_eq(r.problem_type, LB_PROBLEM_MULTI_LABEL);
            cr_assert_eq(r.metrics.n, n);
            cr_assert_eq(r.metrics.num_labels, L);
            near(r.metrics.accuracy, cJSON_GetObjectItem(c, "subset_accuracy")->valuedouble, "subset accuracy", name);
            near(r.metrics.precision, cJSON_GetObjectItem(c, "micro_precision")->valuedouble, "micro precision", name);
            near(r.metrics.recall, cJSON_GetObjectItem(c, "micro_recall")->valuedouble, "micro recall", name);
            near(r.metrics.f1, cJSON_GetObjectItem(c, "micro_f1")->valuedouble, "micro f1", name);
            near(r.macro_precision, cJSON_GetObjectItem(c, "macro_precision")->valuedouble, "macro precision", name);
            near(r.macro_recall, cJSON_GetObjectItem(c, "macro_recall")->valuedouble, "macro recall", name);
            near(r.macro_f1, cJSON_GetObjectItem(c, "macro_f1")->valuedouble, "macro f1", name);
            for (int j = 0; j < L; j++) {
                near(r.metrics.class_precision[j], num_at(c, "precision", j), "label precision", name);
                near(r.metrics.class_recall[j], num_at(c, "recall", j), "label recall", name);
                near(r.metrics.class_f1[j], num_at(c, "f1", j), "label f1", name);
                cr_assert_eq(r.support[j], (int64_t)num_at(c, "support", j), "%s: support %d", name, j);
            }
            free(z);
            free(t);
            nml++;
        } else {
            const cJSON *jp = cJSON_GetObjectItem(c, "pred");
            const int m = cJSON_GetArraySize(jp);
            float *p = malloc(sizeof(float) * m), *t = malloc(sizeof(float) * m);
            for (int i = 0; i < m; i++) p[i] = (float)num_at(c, "pred", i), t[i] = (float)num_at(c, "targets", i);
            cr_assert_eq(lb_regression_metrics(p, t, m, &r, &err), LB_OK, "%s", err.msg);
            cr_assert_eq(r.problem_type, LB_PROBLEM_REGRESSION);
            near(r.mse, cJSON_GetObjectItem(c, "mse")->valuedouble, "mse", name);
            near(r.mae, cJSON_GetObjectItem(c, "mae")->valuedouble, "mae", name);
            const cJSON *pr = cJSON_GetObjectItem(c, "pearson"), *sr = cJSON_GetObjectItem(c, "spearman");
            if (cJSON_IsNull(pr)) cr_assert(isnan(r.pearson) && isnan(r.spearman), "%s: NaN expected", name);
            else {
                near(r.pearson, pr->valuedouble, "pearson", name);
                near(r.spearman, sr->valuedouble, "spearman", name);
            }
            free(p);
            free(t);
            nreg++;
        }
    }
    cr_assert(nml >= 4 && nreg >= 4);
    cJSON_Delete(root);
}
