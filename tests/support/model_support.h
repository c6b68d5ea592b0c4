/* Golden-model helpers shared by the model suites (tests/unit/test_model*.c; linked into every
 * test binary).
 *
 * Owns: reading a golden batch (tests/golden/<case>/forward.safetensors and the like), loading a
 * small golden model, config.json parsed from memory, a golden model folder copied with config
 * fields overridden, the central-difference check of backward, and a golden adapter case (base,
 * PEFT adapter folder, golden.safetensors). Why: test_model.c, test_model_roberta.c,
 * test_model_modernbert.c, test_dora.c and test_mts.c carried their own copies. Guarantees:
 * failures are Criterion assertions; a missing golden skips the test with the script that
 * writes it. */
#ifndef LB_TESTS_MODEL_SUPPORT_H
#define LB_TESTS_MODEL_SUPPORT_H
#include <stdbool.h>
#include <stdint.h>
#include "formats/safetensors.h"
#include "model/model.h"

/* A golden batch: ids, lengths (from attention_mask, which must be right-padded), token types
 * and integer labels when the file holds them (NULL otherwise; float labels are left alone). */
typedef struct golden_batch {
    lb_batch b;
    int32_t *ids, *lens, *tt, *labels;
} golden_batch;

/* The I64 tensor `name` of f as int32 (malloc'd; NULL when absent; another dtype fails the test);
 * *n_out its element count, shape[0..1] its first two dims (1 for a vector), each when non-NULL. */
int32_t *golden_i64_to_i32(lb_st_file *f, const char *name, int64_t *n_out, int64_t *shape);
/* The batch of f (input_ids, attention_mask, token_type_ids, labels). */
void golden_read_batch(lb_st_file *f, golden_batch *g);
/* The batch of tests/golden/<name>/forward.safetensors (the file is closed again). */
void golden_read_forward(const char *name, golden_batch *g);
void golden_free_batch(golden_batch *g);

/* tests/golden/<name>/model loaded quietly with seed 5; skips the test when the folder is
 * missing, naming `writer` (the script that writes it). */
lb_model *golden_load_model(const char *name, const char *writer);

/* config.json text parsed as lb_model_load would with opts (lb_config_parse_text; opts may be
 * NULL); *out gets the scalars only (id2label NULL). */
lb_status golden_parse_config(const char *text, const lb_load_opts *opts, lb_model_config *out, lb_error *e);
/* golden_parse_config(text) returns code with needle in its message. */
void golden_config_refused(const char *text, lb_status code, const char *needle);

/* A copy of tests/golden/<name>/model in a fresh /tmp folder: config.json with keys[i] set to
 * vals[i] (i < n), model.safetensors linked. Remove it with golden_remove_copy (frees dir). */
char *golden_model_copy(const char *name, const char *const *keys, const double *vals, int n);
void golden_remove_copy(char *dir);

/* Central differences of the train-mode cross-entropy loss of b (the dropout rng seeded with
 * `seed` before every forward) against backward, at three entries of every trainable tensor
 * that skip (NULL: none) does not name (h = 1e-3: float truncation vs rounding balance):
 * |fd - backward| <= 5e-3 |backward| + 3e-4. Returns how many tensors it checked. */
int assert_fd_matches_backward(lb_model *m, const lb_batch *b, const int32_t *labels, uint64_t seed,
                               bool (*skip)(const char *name));
/* *m's trainable tensors, lora_B scaled by 0.1 (smooth enough for float central differences at
 * h = 1e-3), carried onto model_dir loaded afresh (quiet) with the adapter lc (LoRA dropout on,
 * say), which must give the same tensors in the same order; *m is freed and replaced. */
void reload_adapter_scaled(lb_model **m, const char *model_dir, const lb_lora_config *lc);

/* tests/golden/<src>/model loaded quietly (default options). */
lb_model *golden_load_base(const char *src);

/* A golden adapter case as tools/reference/dora_golden.py and mts_golden.py write it: the base
 * tests/golden/<src>/model with PEFT's adapter folder <dir>/lora loaded (lb_peft_load), and
 * <dir>/golden.safetensors open (f) with its batch read (b, ids, lens, tt, labels). NL: the
 * model's labels; y1, y2: two scratch buffers of B * NL floats for the test's use. */
typedef struct adapter_golden {
    lb_model *m;
    lb_st_file *f;
    lb_batch b;
    int32_t *ids, *lens, *tt, *labels;
    int NL;
    char *ldir;
    float *y1, *y2;
} adapter_golden;
/* Skips the test when dir is missing, naming `writer`. */
void adapter_golden_open(adapter_golden *g, const char *dir, const char *src, const char *writer);
void adapter_golden_close(adapter_golden *g);
/* The F32 tensor `name` of g->f (the test fails when it is absent). */
const float *adapter_golden_tensor(const adapter_golden *g, const char *name);

/* g's adapter saved by lb_peft_save (base name "base") into a fresh /tmp folder: its
 * adapter_config.json holds config_needle, its adapter_model.safetensors the tensor names of
 * PEFT's own file (g->ldir's) key for key, and tests/golden/<src>/model with it loaded back gives
 * g's logits bit for bit. The folder is removed after. */
void assert_adapter_save_round_trip(adapter_golden *g, const char *src, const char *config_needle);

/* The F32 tensor <prefix>.<pname> of g->f (grad.<name>, traj.<name>; the test fails when absent). */
const float *adapter_golden_param(const adapter_golden *g, const char *prefix, const char *pname);

/* The parity checks that test_dora.c and test_mts.c run on every case (`name` labels failures):
 * adapter_parity_forward_backward: eval logits within eval_tol (max abs) of the golden's logits,
 * unpacked and train-mode logits within 1e-4, the loss within 1e-4 relative of its loss; then
 * zero_grad and backward from that loss, and the trainable tensors are exactly as many as its
 * grad.* tensors. *d_eval, *d_train: the eval and train-mode logit differences. */
void adapter_parity_forward_backward(adapter_golden *g, const char *name, double eval_tol, double *d_eval,
                                     double *d_train);
/* len(traj_losses) AdamW steps (defaults, weight decay 0.01, lr 1e-2) in train mode, each loss
 * within 1e-3 relative of traj_losses; then every trainable tensor that skip (NULL: none) does not
 * name within 1e-3 relative of traj.<name>. */
void adapter_parity_trajectory(adapter_golden *g, const char *name, bool (*skip)(const char *pname));
/* lb_model_merge_lora leaves no adapter, and the merged logits are within 1e-5 of the golden's
 * merged_logits and of the unmerged logits. */
void adapter_parity_merge(adapter_golden *g, const char *name);

/* max |a[i] - b[i]| over n floats. */
double max_abs_diff(const float *a, const float *b, int64_t n);
/* max |got - ref| / max |ref| (max |got - ref| when ref is all 0). */
double rel_diff(const float *got, const float *ref, int64_t n);
#endif
