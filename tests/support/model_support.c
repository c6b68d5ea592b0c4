/* Golden-model test helpers; see model_support.h. */
#include "model_support.h"
#include <criterion/criterion.h>
#include <cjson/cJSON.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "kernels/kernels.h"
#include "model/internal.h"
#include "model/peft.h"
#include "train/optim.h"

int32_t *golden_i64_to_i32(lb_st_file *f, const char *name, int64_t *n_out, int64_t *shape) {
    const lb_st_tensor *t = lb_st_find(f, name);
    if (!t) return NULL;
    cr_assert_eq(t->dtype, LB_DT_I64, "%s: expected I64", name);
    int32_t *o = malloc(sizeof(int32_t) * (size_t)(t->numel ? t->numel : 1));
    const int64_t *src = t->data;
    for (int64_t i = 0; i < t->numel; i++) o[i] = (int32_t)src[i];
    if (n_out) *n_out = t->numel;
    if (shape) {
        shape[0] = t->shape[0];
        shape[1] = t->ndim > 1 ? t->shape[1] : 1;
    }
    return o;
}

void golden_read_batch(lb_st_file *f, golden_batch *g) {
    int64_t shape[2];
    memset(g, 0, sizeof *g);
    g->ids = golden_i64_to_i32(f, "input_ids", NULL, shape);
    cr_assert_not_null(g->ids);
    int B = (int)shape[0], T = (int)shape[1];
    int32_t *mask = golden_i64_to_i32(f, "attention_mask", NULL, NULL);
    g->lens = calloc((size_t)B, sizeof(int32_t));
    for (int b = 0; b < B; b++) {
        int len = 0;
        for (int t = 0; t < T; t++) len += mask[b * T + t];
        for (int t = 0; t < T; t++) cr_assert_eq(mask[b * T + t], t < len, "golden batch is not right-padded");
        g->lens[b] = len;
    }
    free(mask);
    g->tt = golden_i64_to_i32(f, "token_type_ids", NULL, NULL);
    const lb_st_tensor *lt = lb_st_find(f, "labels"); /* float targets: multi-label / regression cases */
    g->labels = lt && lt->dtype == LB_DT_I64 ? golden_i64_to_i32(f, "labels", NULL, NULL) : NULL;
    g->b = (lb_batch){.B = B, .T = T, .ids = g->ids, .lengths = g->lens, .token_type_ids = g->tt};
}

void golden_read_forward(const char *name, golden_batch *g) {
    char p[256];
    snprintf(p, sizeof p, "tests/golden/%s/forward.safetensors", name);
    lb_error e;
    lb_st_file *f = lb_st_open(p, &e);
    cr_assert_not_null(f, "%s", e.msg);
    golden_read_batch(f, g);
    lb_st_close(f);
}

void golden_free_batch(golden_batch *g) {
    free(g->ids);
    free(g->lens);
    free(g->tt);
    free(g->labels);
}

lb_model *golden_load_model(const char *name, const char *writer) {
    char dir[256];
    snprintf(dir, sizeof dir, "tests/golden/%s/model", name);
    if (!lb_dir_exists(dir)) cr_skip_test("golden %s missing (%s)", dir, writer);
    lb_error e;
    lb_load_opts o = {.quiet = true, .seed = 5};
    lb_model *m = lb_model_load(dir, &o, &e);
    cr_assert_not_null(m, "%s", e.msg);
    return m;
}

lb_status golden_parse_config(const char *text, const lb_load_opts *opts, lb_model_config *out, lb_error *e) {
    lb_model *m = calloc(1, sizeof *m);
    cr_assert_not_null(m);
    lb_status st = lb_config_parse_text(m, "mem/config.json", text, opts, e);
    *out = m->cfg; /* copied before freeing: the caller compares scalars only */
    out->id2label = NULL;
    lb_config_free(&m->cfg);
    cJSON_Delete(m->config_json);
    free(m);
    return st;
}

void golden_config_refused(const char *text, lb_status code, const char *needle) {
    lb_error e;
    lb_model_config c;
    cr_assert_eq(golden_parse_config(text, NULL, &c, &e), code, "%s -> %s", text, e.msg);
    cr_assert(strstr(e.msg, needle), "%s: message lacks \"%s\": %s", text, needle, e.msg);
}

char *golden_model_copy(const char *name, const char *const *keys, const double *vals, int n) {
    char tmpl[] = "/tmp/lbmodelXXXXXX", src[256], text_path[300], abs[600], link[600], target[700];
    char *dir = strdup(mkdtemp(tmpl));
    snprintf(src, sizeof src, "tests/golden/%s/model", name);
    cr_assert_not_null(realpath(src, abs));
    snprintf(link, sizeof link, "%s/model.safetensors", dir);
    snprintf(target, sizeof target, "%s/model.safetensors", abs);
    cr_assert_eq(symlink(target, link), 0);
    snprintf(text_path, sizeof text_path, "%s/config.json", src);
    char *text;
    lb_error e;
    cr_assert_eq(lb_read_file(text_path, &text, NULL, &e), LB_OK, "%s", e.msg);
    cJSON *j = cJSON_Parse(text);
    for (int i = 0; i < n; i++) {
        cJSON_DeleteItemFromObject(j, keys[i]);
        cJSON_AddNumberToObject(j, keys[i], vals[i]);
    }
    char *out = cJSON_Print(j), cp[300];
    snprintf(cp, sizeof cp, "%s/config.json", dir);
    cr_assert_eq(lb_write_file_atomic(cp, out, strlen(out), &e), LB_OK, "%s", e.msg);
    free(out);
    cJSON_Delete(j);
    free(text);
    return dir;
}

void golden_remove_copy(char *dir) {
    char p[600];
    snprintf(p, sizeof p, "%s/model.safetensors", dir);
    unlink(p);
    snprintf(p, sizeof p, "%s/config.json", dir);
    unlink(p);
    rmdir(dir);
    free(dir);
}

static double train_loss(lb_model *m, const lb_batch *b, const int32_t *labels, uint64_t seed, float *logits) {
    lb_rng r;
    lb_error e;
    lb_rng_seed(&r, seed);
    lb_model_forward(m, b, true, &r, logits, &e);
    return lb_cross_entropy(logits, labels, b->B, lb_model_get_config(m)->num_labels, NULL);
}

int assert_fd_matches_backward(lb_model *m, const lb_batch *b, const int32_t *labels, uint64_t seed,
                               bool (*skip)(const char *name)) {
    int NL = lb_model_get_config(m)->num_labels;
    float *logits = malloc(sizeof(float) * (size_t)b->B * NL), *dl = malloc(sizeof(float) * (size_t)b->B * NL);
    cr_assert(logits && dl);
    lb_error e;
    lb_rng r;
    lb_rng_seed(&r, seed);
    cr_assert_eq(lb_model_forward(m, b, true, &r, logits, &e), LB_OK, "%s", e.msg);
    lb_cross_entropy(logits, labels, b->B, NL, dl);
    lb_model_zero_grad(m);
    cr_assert_eq(lb_model_backward(m, dl, &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(m, &ps), checked = 0;
    for (int i = 0; i < np; i++) {
        if (skip && skip(ps[i].name)) continue;
        checked++;
        for (int j = 0; j < 3; j++) {
            int64_t idx = (int64_t)(j * 7919 + i * 31) % ps[i].numel;
            float s = ps[i].data[idx], h = 1e-3f; /* float FD: truncation vs rounding balance */
            ps[i].data[idx] = s + h;
            double lp = train_loss(m, b, labels, seed, logits);
            ps[i].data[idx] = s - h;
            double lm = train_loss(m, b, labels, seed, logits);
            ps[i].data[idx] = s;
            double num = (lp - lm) / (2 * h), an = ps[i].grad[idx];
            cr_assert(fabs(num - an) <= 5e-3 * fabs(an) + 3e-4, "%s[%lld]: fd %.6g vs backward %.6g", ps[i].name,
                      (long long)idx, num, an);
        }
    }
    free(logits);
    free(dl);
    return checked;
}

void reload_adapter_scaled(lb_model **m, const char *model_dir, const lb_lora_config *lc) {
    lb_param *ps;
    int np = lb_model_params(*m, &ps);
    float **saved = malloc(sizeof(float *) * (size_t)np);
    for (int i = 0; i < np; i++) {
        saved[i] = malloc(sizeof(float) * (size_t)ps[i].numel);
        memcpy(saved[i], ps[i].data, sizeof(float) * (size_t)ps[i].numel);
        if (strstr(ps[i].name, "lora_B"))
            for (int64_t j = 0; j < ps[i].numel; j++) saved[i][j] *= 0.1f;
    }
    lb_model_free(*m);
    lb_error e;
    lb_load_opts lo = {.quiet = true};
    *m = lb_model_load(model_dir, &lo, &e);
    cr_assert_not_null(*m, "%s", e.msg);
    cr_assert_eq(lb_model_add_lora(*m, lc, 1, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_params(*m, &ps), np);
    for (int i = 0; i < np; i++) {
        memcpy(ps[i].data, saved[i], sizeof(float) * (size_t)ps[i].numel);
        free(saved[i]);
    }
    free(saved);
}

lb_model *golden_load_base(const char *src) {
    char mdir[256];
    snprintf(mdir, sizeof mdir, "tests/golden/%s/model", src);
    lb_error e = {0};
    lb_load_opts o = {.quiet = true};
    lb_model *m = lb_model_load(mdir, &o, &e);
    cr_assert_not_null(m, "%s", e.msg);
    return m;
}

void adapter_golden_open(adapter_golden *g, const char *dir, const char *src, const char *writer) {
    memset(g, 0, sizeof *g);
    if (!lb_dir_exists(dir)) cr_skip_test("golden %s missing (run %s)", dir, writer);
    lb_error e = {0};
    g->m = golden_load_base(src);
    g->ldir = lb_path_join(dir, "lora");
    cr_assert_eq(lb_peft_load(g->m, g->ldir, &e), LB_OK, "%s", e.msg);
    char path[300];
    snprintf(path, sizeof path, "%s/golden.safetensors", dir);
    g->f = lb_st_open(path, &e);
    cr_assert_not_null(g->f, "%s", e.msg);
    golden_batch gb;
    golden_read_batch(g->f, &gb);
    cr_assert_not_null(gb.labels, "%s: integer labels", path);
    g->b = gb.b;
    g->ids = gb.ids;
    g->lens = gb.lens;
    g->tt = gb.tt;
    g->labels = gb.labels;
    g->NL = lb_model_get_config(g->m)->num_labels;
    g->y1 = malloc(sizeof(float) * (size_t)g->b.B * g->NL);
    g->y2 = malloc(sizeof(float) * (size_t)g->b.B * g->NL);
    cr_assert(g->y1 && g->y2);
}

void adapter_golden_close(adapter_golden *g) {
    free(g->ids);
    free(g->lens);
    free(g->tt);
    free(g->labels);
    free(g->ldir);
    free(g->y1);
    free(g->y2);
    lb_st_close(g->f);
    lb_model_free(g->m);
}

const float *adapter_golden_tensor(const adapter_golden *g, const char *name) {
    lb_error e = {0};
    const lb_st_tensor *t = lb_st_find(g->f, name);
    cr_assert_not_null(t, "golden lacks %s", name);
    const float *p = lb_st_f32(g->f, t, &e);
    cr_assert_not_null(p, "%s", e.msg);
    return p;
}

const float *adapter_golden_param(const adapter_golden *g, const char *prefix, const char *pname) {
    char key[600];
    snprintf(key, sizeof key, "%s.%s", prefix, pname);
    return adapter_golden_tensor(g, key);
}

void adapter_parity_forward_backward(adapter_golden *g, const char *name, double eval_tol, double *d_eval,
                                     double *d_train) {
    lb_error e = {0};
    int B = g->b.B, NL = g->NL;
    float *logits = g->y1, *dl = g->y2;
    const float *ref = adapter_golden_tensor(g, "logits");
    cr_assert_eq(lb_model_forward(g->m, &g->b, false, NULL, logits, &e), LB_OK, "%s", e.msg);
    *d_eval = max_abs_diff(logits, ref, (int64_t)B * NL);
    cr_assert(*d_eval <= eval_tol, "%s: eval logits of the PEFT-saved adapter differ by %.3g", name, *d_eval);
    lb_model_set_weight_packing(g->m, false);
    cr_assert_eq(lb_model_forward(g->m, &g->b, false, NULL, logits, &e), LB_OK, "%s", e.msg);
    cr_assert(max_abs_diff(logits, ref, (int64_t)B * NL) <= 1e-4, "%s: unpacked", name);
    lb_model_set_weight_packing(g->m, true);
    cr_assert_eq(lb_model_forward(g->m, &g->b, true, NULL, logits, &e), LB_OK, "%s", e.msg);
    *d_train = max_abs_diff(logits, ref, (int64_t)B * NL);
    cr_assert(*d_train <= 1e-4, "%s: train-mode logits differ by %.3g", name, *d_train);
    float loss = lb_cross_entropy(logits, g->labels, B, NL, dl), rl = *adapter_golden_tensor(g, "loss");
    cr_assert(fabsf(loss - rl) <= 1e-4f * fabsf(rl), "%s: loss %.8g vs %.8g", name, loss, rl);
    lb_model_zero_grad(g->m);
    cr_assert_eq(lb_model_backward(g->m, dl, &e), LB_OK, "%s", e.msg);
    lb_param *ps;
    int np = lb_model_params(g->m, &ps), ngold = 0;
    for (size_t i = 0; i < lb_st_count(g->f); i++) ngold += !strncmp(lb_st_at(g->f, i)->name, "grad.", 5);
    cr_assert_eq(np, ngold, "%s: %d trainable tensors, %d golden grads", name, np, ngold);
}

void adapter_parity_trajectory(adapter_golden *g, const char *name, bool (*skip)(const char *pname)) {
    lb_error e = {0};
    int B = g->b.B, NL = g->NL;
    float *logits = g->y1, *dl = g->y2;
    lb_param *ps;
    int np = lb_model_params(g->m, &ps);
    lb_adamw opt;
    lb_adamw_config oc;
    lb_adamw_defaults(&oc);
    oc.weight_decay = 0.01f;
    cr_assert_eq(lb_adamw_init(&opt, ps, np, &oc, &e), LB_OK, "%s", e.msg);
    const lb_st_tensor *lt = lb_st_find(g->f, "traj_losses");
    cr_assert_not_null(lt);
    const float *rl = adapter_golden_tensor(g, "traj_losses");
    for (int64_t s = 0; s < lt->numel; s++) {
        cr_assert_eq(lb_model_forward(g->m, &g->b, true, NULL, logits, &e), LB_OK, "%s", e.msg);
        float loss = lb_cross_entropy(logits, g->labels, B, NL, dl);
        cr_assert(fabsf(loss - rl[s]) <= 1e-3f * fabsf(rl[s]), "%s step %lld: loss %.8g vs %.8g", name, (long long)s,
                  loss, rl[s]);
        lb_model_zero_grad(g->m);
        cr_assert_eq(lb_model_backward(g->m, dl, &e), LB_OK, "%s", e.msg);
        lb_adamw_step(&opt, 1e-2);
    }
    double worst = 0;
    for (int i = 0; i < np; i++) {
        if (skip && skip(ps[i].name)) continue;
        double rel = rel_diff(ps[i].data, adapter_golden_param(g, "traj", ps[i].name), ps[i].numel);
        worst = fmax(worst, rel);
        cr_assert(rel <= 1e-3, "%s: %s after the trajectory: rel %.3g", name, ps[i].name, rel);
    }
    cr_log_info("%s: %lld steps, loss %.6g -> %.6g, worst parameter rel %.3g", name, (long long)lt->numel, rl[0],
                rl[lt->numel - 1], worst);
    lb_adamw_free(&opt);
}

void adapter_parity_merge(adapter_golden *g, const char *name) {
    lb_error e = {0};
    int B = g->b.B, NL = g->NL;
    float *l1 = g->y1, *l2 = g->y2;
    cr_assert_eq(lb_model_forward(g->m, &g->b, false, NULL, l1, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_merge_lora(g->m, &e), LB_OK, "%s", e.msg);
    cr_assert_null(lb_model_get_lora(g->m));
    cr_assert_eq(lb_model_forward(g->m, &g->b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
    double dm = max_abs_diff(l2, adapter_golden_tensor(g, "merged_logits"), (int64_t)B * NL);
    double du = max_abs_diff(l2, l1, (int64_t)B * NL);
    cr_log_info("%s: merged vs PEFT merged %.3g, vs unmerged %.3g", name, dm, du);
    cr_assert(dm <= 1e-5, "%s: merged logits vs PEFT merge_and_unload: %.3g", name, dm);
    cr_assert(du <= 1e-5, "%s: merged vs unmerged logits: %.3g", name, du);
}

void assert_adapter_save_round_trip(adapter_golden *g, const char *src, const char *config_needle) {
    lb_error e = {0};
    int B = g->b.B, NL = g->NL;
    char tmpl[] = "/tmp/lb_adapter_XXXXXX";
    cr_assert_not_null(mkdtemp(tmpl));
    cr_assert_eq(lb_peft_save(g->m, tmpl, "base", &e), LB_OK, "%s", e.msg);
    char *cpath = lb_path_join(tmpl, "adapter_config.json"), *text = NULL;
    cr_assert_eq(lb_read_file(cpath, &text, NULL, &e), LB_OK, "%s", e.msg);
    cr_assert_not_null(strstr(text, config_needle), "%s", text);
    free(text);
    /* Same tensor names as PEFT's own file (key for key). */
    char *mine = lb_path_join(tmpl, "adapter_model.safetensors"),
         *theirs = lb_path_join(g->ldir, "adapter_model.safetensors");
    lb_st_file *a = lb_st_open(mine, &e), *b = lb_st_open(theirs, &e);
    cr_assert(a && b);
    cr_assert_eq(lb_st_count(a), lb_st_count(b));
    for (size_t i = 0; i < lb_st_count(b); i++)
        cr_assert_not_null(lb_st_find(a, lb_st_at(b, i)->name), "lorabert's file lacks %s", lb_st_at(b, i)->name);
    lb_st_close(a);
    lb_st_close(b);
    float *l1 = g->y1, *l2 = g->y2;
    cr_assert_eq(lb_model_forward(g->m, &g->b, false, NULL, l1, &e), LB_OK, "%s", e.msg);
    lb_model *m2 = golden_load_base(src);
    cr_assert_eq(lb_peft_load(m2, tmpl, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(lb_model_forward(m2, &g->b, false, NULL, l2, &e), LB_OK, "%s", e.msg);
    cr_assert_eq(memcmp(l1, l2, sizeof(float) * (size_t)B * NL), 0, "reloaded adapter gives other logits");
    lb_model_free(m2);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf %s", tmpl);
    cr_assert_eq(system(cmd), 0);
    free(cpath);
    free(mine);
    free(theirs);
}

double max_abs_diff(const float *a, const float *b, int64_t n) {
    double m = 0;
    for (int64_t i = 0; i < n; i++) m = fmax(m, fabs((double)a[i] - b[i]));
    return m;
}

double rel_diff(const float *got, const float *ref, int64_t n) {
    double md = 0, mr = 0;
    for (int64_t i = 0; i < n; i++) {
        md = fmax(md, fabs((double)got[i] - ref[i]));
        mr = fmax(mr, fabs((double)ref[i]));
    }
    return mr > 0 ? md / mr : md;
}
