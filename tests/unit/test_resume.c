/* resume.json validation (src/train/resume.c): a checkpoint written by lorabert is read back
 * whole; every field that indexes an array or steers the schedule is refused when out of
 * range, naming the field (the issue-10 repros: order[] out of range, negative step_in_epoch and
 * epoch, a huge global_step), and trailing garbage or a missing id is refused. lb_resume_find
 * picks the folder --resume continues from (a checkpoint, or a run folder's newest). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "base/fileio.h"
#include "base/outdir.h"
#include "train/resume.h"

static const lb_resume_dims dims = {.n_train = 10,
                                    .n_eval = 4,
                                    .epochs = 3,
                                    .batch_size = 4,
                                    .seed = 42,
                                    .steps_per_epoch = 3,
                                    .total_steps = 9,
                                    .num_labels = 2,
                                    .fixed_order = false,
                                    .micro_per_step = 1,
                                    .precision = "fp32"};

static char *seed_text(const char *name) {
    char path[256];
    snprintf(path, sizeof path, "fuzz/corpus/resume/%s", name);
    char *t = NULL;
    size_t n;
    lb_error err;
    cr_assert_eq(lb_read_file(path, &t, &n, &err), LB_OK, "%s (run from the repository root)", err.msg);
    return t;
}

/* The seed with the first occurrence of `from` replaced by `to`. */
static char *edited(const char *name, const char *from, const char *to) {
    char *t = seed_text(name);
    char *at = strstr(t, from);
    cr_assert_not_null(at, "'%s' not in %s", from, name);
    size_t n = strlen(t) - strlen(from) + strlen(to) + 1;
    char *o = malloc(n);
    snprintf(o, n, "%.*s%s%s", (int)(at - t), t, to, at + strlen(from));
    free(t);
    return o;
}

static void refused(const char *text, const char *field) {
    lb_resume r;
    lb_error err = {0};
    lb_status st = lb_resume_parse(text, strlen(text), "resume.json", &dims, &r, &err);
    cr_assert_neq(st, LB_OK, "accepted; expected a refusal naming %s", field);
    cr_assert(strstr(err.msg, field), "message does not name %s: %s", field, err.msg);
    cr_assert(strstr(err.msg, "resume.json"), "message does not name the file: %s", err.msg);
}

Test(resume, seeds_are_accepted_whole) {
    const char *names[] = {"mid_epoch.json", "epoch_end.json"};
    for (int k = 0; k < 2; k++) {
        char *t = seed_text(names[k]);
        lb_resume r;
        lb_error err;
        cr_assert_eq(lb_resume_parse(t, strlen(t), "resume.json", &dims, &r, &err), LB_OK, "%s: %s", names[k], err.msg);
        cr_assert_eq(r.epoch, 1);
        cr_assert_eq(r.best_epoch, 1);
        cr_assert_eq(r.nhist, 1);
        cr_assert_eq(r.nfiles, 4);
        cr_assert_str_eq(lb_resume_file_sha256(&r, "optimizer.safetensors"),
                         "cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc");
        cr_assert_eq(r.best_eval.confusion[2], 1);
        if (k == 0) cr_assert_eq(r.order[2], 4);
        lb_resume_free(&r);
        free(t);
    }
}

Test(resume, issue_repros_are_refused_by_field) {
    struct {
        const char *from, *to, *field;
    } c[] = {
        {"\"order\": [\n  3", "\"order\": [\n  1000000", "order"}, /* order[0] out of range */
        {"  7\n ]", "  -1\n ]", "order"},                          /* order[-1] */
        {"  7\n ]", "  3\n ]", "order"},                           /* a duplicate row */
        {"\"step_in_epoch\": 1", "\"step_in_epoch\": -1", "step_in_epoch"},
        {"\"step_in_epoch\": 1", "\"step_in_epoch\": -100", "step_in_epoch"},
        {"\"epoch\": 1", "\"epoch\": -3", "epoch"},
        {"\"global_step\": 4", "\"global_step\": 1000000000", "global_step"},
        {"\"global_step\": 4", "\"global_step\": 5", "global_step"}, /* disagrees with epoch/step */
        {"\"step_adam\": 4", "\"step_adam\": 40", "step_adam"},
        {"\"best_epoch\": 1", "\"best_epoch\": 3", "best_epoch"}, /* a best epoch not yet run */
        {"\"best_step\": 3", "\"best_step\": 4", "best_step"},    /* a step outside epoch best_epoch */
        {"\"best_epoch\": 1", "\"best_epoch\": 2", "best_step"},  /* this epoch, but step 3 is in epoch 1 */
        {"\"tr_loss\": 0.69", "\"tr_loss\": -5", "tr_loss"},
        {"\"best_confusion\": [\n  2", "\"best_confusion\": [\n  3", "best_confusion"}, /* sum != 4 rows */
        {"\"shuffle_rng\": [\n  \"1\",\n  \"2\",\n  \"3\",\n  \"4\"",
         "\"shuffle_rng\": [\n  \"0\",\n  \"0\",\n  \"0\",\n  \"0\"", "shuffle_rng"},
        {"\"seed\": \"42\"", "\"seed\": \"-42\"", "seed"},
        {"\"epoch\": 1", "\"epoch\": 1.5", "epoch"},
        {"\"epoch_loss_steps\": 1", "\"epoch_loss_steps\": 7", "epoch_loss_steps"},
        {"\"checkpoint_id\": \"0123456789abcdef0123456789abcdef\"", "\"checkpoint_id\": \"x\"", "checkpoint_id"},
        {"\"history\": [\n  [\n   1", "\"history\": [\n  [\n   7", "history"},
    };
    for (size_t i = 0; i < sizeof c / sizeof c[0]; i++) {
        char *t = edited("mid_epoch.json", c[i].from, c[i].to);
        refused(t, c[i].field);
        free(t);
    }
}

Test(resume, another_run_or_trailing_garbage_is_refused) {
    char *t = seed_text("mid_epoch.json");
    size_t n = strlen(t);
    char *g = malloc(n + 8);
    snprintf(g, n + 8, "%s{}", t);
    lb_resume r;
    lb_error err;
    cr_assert_eq(lb_resume_parse(g, strlen(g), "resume.json", &dims, &r, &err), LB_ERR_FORMAT);
    cr_assert(strstr(err.msg, "extra data"), "%s", err.msg);
    lb_resume_dims other = dims;
    other.seed = 43;
    cr_assert_eq(lb_resume_parse(t, n, "resume.json", &other, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "another run"), "%s", err.msg);
    other = dims;
    other.precision = "bf16";
    cr_assert_eq(lb_resume_parse(t, n, "resume.json", &other, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "--precision fp32"), "%s", err.msg);
    /* The options that decide the loss, the evaluations and the result: the first that differs is
     * named (absent in the seed, written before they were recorded: not compared). */
    other = dims;
    other.run_options = "label_smoothing_factor=0;class_weights=none;eval_strategy=epoch";
    cr_assert_eq(lb_resume_parse(t, n, "resume.json", &other, &r, &err), LB_OK, "%s", err.msg);
    lb_resume_free(&r);
    char *ro = edited("mid_epoch.json", "\"best_epoch\"",
                      "\"run_options\": \"label_smoothing_factor=0;class_weights=none;eval_strategy=epoch\",\n "
                      "\"best_epoch\"");
    cr_assert_eq(lb_resume_parse(ro, strlen(ro), "resume.json", &other, &r, &err), LB_OK, "%s", err.msg);
    lb_resume_free(&r);
    other.run_options = "label_smoothing_factor=0.1;class_weights=none;eval_strategy=epoch";
    cr_assert_eq(lb_resume_parse(ro, strlen(ro), "resume.json", &other, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "trained with label_smoothing_factor=0, resuming with label_smoothing_factor=0.1"), "%s",
              err.msg);
    other.run_options = "label_smoothing_factor=0;class_weights=none;eval_strategy=steps";
    cr_assert_eq(lb_resume_parse(ro, strlen(ro), "resume.json", &other, &r, &err), LB_ERR_USAGE);
    cr_assert(strstr(err.msg, "eval_strategy=epoch, resuming with eval_strategy=steps"), "%s", err.msg);
    other.run_options = "label_smoothing_factor=0;class_weights=none";
    cr_assert_eq(lb_resume_parse(ro, strlen(ro), "resume.json", &other, &r, &err), LB_ERR_USAGE);
    free(ro);
    /* A best checkpoint in the middle of this epoch (eval / save strategy steps) */
    char *mid =
        edited("mid_epoch.json", "\"best_epoch\": 1,\n \"best_step\": 3", "\"best_epoch\": 2,\n \"best_step\": 4");
    cr_assert_eq(lb_resume_parse(mid, strlen(mid), "resume.json", &dims, &r, &err), LB_OK, "%s", err.msg);
    cr_assert_eq(r.best_step, 4);
    lb_resume_free(&r);
    free(mid);
    /* Without a validation set there can be no best epoch. */
    other = dims;
    other.n_eval = 0;
    cr_assert_neq(lb_resume_parse(t, n, "resume.json", &other, &r, &err), LB_OK);
    free(g);
    free(t);
}

/* ---- lb_resume_find: which folder --resume takes (HF's resume_from_checkpoint) ---- */

static void touch(const char *dir, const char *sub, const char *file, const char *text) {
    char p[512];
    snprintf(p, sizeof p, "%s/%s", dir, sub);
    lb_error err;
    cr_assert_eq(lb_mkdir_p(p, &err), LB_OK, "%s", err.msg);
    snprintf(p, sizeof p, "%s/%s/%s", dir, sub, file);
    FILE *f = fopen(p, "w");
    cr_assert_not_null(f, "%s", p);
    fputs(text, f);
    fclose(f);
}

static char *find_in(const char *dir, const char *sub, lb_status want, lb_error *err) {
    char p[512];
    snprintf(p, sizeof p, "%s%s%s", dir, *sub ? "/" : "", sub);
    char *out = NULL;
    lb_status st = lb_resume_find(p, &out, err);
    cr_assert_eq(st, want, "%s: status %d (%s), expected %d", p, st, st ? err->msg : "", want);
    cr_assert((st == LB_OK) == (out != NULL));
    return out;
}

Test(resume, find_picks_the_newest_checkpoint_with_state_or_a_further_resume) {
    char dir[] = "/tmp/lbfindXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    lb_error err;
    char want[600];
    /* a run folder with nothing to resume: LB_ERR_IO saying so */
    touch(dir, "runs", "x", "");
    char *got = find_in(dir, "", LB_ERR_IO, &err);
    cr_assert(strstr(err.msg, "nothing to resume from"), "%s", err.msg);
    /* checkpoints without state only: the newest is named, as an older lorabert's */
    touch(dir, "checkpoint-9", "adapter_config.json", "{}");
    touch(dir, "checkpoint-12", "adapter_config.json", "{}");
    got = find_in(dir, "", LB_ERR_FORMAT, &err);
    cr_assert(strstr(err.msg, "checkpoint-12: holds no resume state") &&
                  strstr(err.msg, "written by an older lorabert without resume state"),
              "%s", err.msg);
    got = find_in(dir, "checkpoint-9", LB_ERR_FORMAT, &err);
    /* the newest with state, by step number (10 > 9, though "9" sorts after "10" as text) */
    touch(dir, "checkpoint-10", "resume.json", "{}");
    touch(dir, "checkpoint-8", "resume.json", "{}");
    got = find_in(dir, "", LB_OK, &err);
    snprintf(want, sizeof want, "%s/checkpoint-10", dir);
    cr_assert_str_eq(got, want);
    free(got);
    /* resume/ further on wins; an equal or older one does not */
    touch(dir, "resume", "resume.json", "{\"format\": \"lorabert-resume-1\", \"global_step\": 10}");
    got = find_in(dir, "", LB_OK, &err);
    cr_assert_str_eq(got, want);
    free(got);
    touch(dir, "resume", "resume.json", "{\"global_step\": 11}");
    got = find_in(dir, "", LB_OK, &err);
    snprintf(want, sizeof want, "%s/resume", dir);
    cr_assert_str_eq(got, want);
    free(got);
    /* a resume/ whose resume.json has no step: refused naming it */
    touch(dir, "resume", "resume.json", "{\"global_step\": \"x\"}");
    got = find_in(dir, "", LB_ERR_FORMAT, &err);
    cr_assert(strstr(err.msg, "resume/resume.json: no global_step"), "%s", err.msg);
    /* a folder holding resume.json is itself; a missing one is LB_ERR_IO with the SIGKILL hint */
    got = find_in(dir, "checkpoint-8", LB_OK, &err);
    snprintf(want, sizeof want, "%s/checkpoint-8", dir);
    cr_assert_str_eq(got, want);
    free(got);
    got = find_in(dir, "nope/resume", LB_ERR_IO, &err);
    cr_assert(strstr(err.msg, "no such folder to resume from") && strstr(err.msg, "SIGKILL"), "%s", err.msg);
    lb_remove_tree(dir, &err);
}
