/* Golden-model helpers shared by the model suites (tests/unit/test_model*.c; linked into every
 * test binary).
 *
 * Owns: reading a golden batch (tests/golden/<case>/forward.safetensors and the like), loading a
 * small golden model, config.json parsed from memory, a golden model folder copied with config
 * fields overridden, and the central-difference check of backward. Why: test_model.c,
 * test_model_roberta.c and test_model_modernbert.c carried their own copies. Guarantees:
 * failures are Criterion assertions; a missing golden skips the test with the script that
 * writes it. */
#ifndef LB_TESTS_MODEL_SUPPORT_H
#define LB_TESTS_MODEL_SUPPORT_H
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
 * (h = 1e-3: float truncation vs rounding balance): |fd - backward| <= 5e-3 |backward| + 3e-4. */
void assert_fd_matches_backward(lb_model *m, const lb_batch *b, const int32_t *labels, uint64_t seed);

/* max |a[i] - b[i]| over n floats. */
double max_abs_diff(const float *a, const float *b, int64_t n);
#endif
