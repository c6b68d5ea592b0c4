/* The façade's private helpers (src/api/ only).
 *
 * Owns: the public API of include/lorabert.h where it orchestrates several modules (model
 * resolution, the classifier, datasets, evaluation, merging, training runs). Why here: the
 * modules below stay independent of each other's handles; this layer is the only one that
 * knows them all. Guarantees: nothing here prints, exits or keeps global state. */
#ifndef LB_API_API_H
#define LB_API_API_H
#include <stdbool.h>
#include "base/error.h"

/* A local folder as is, else a hub repo id resolved through the HF cache. kind: "model",
 * "adapter" (fetched as a model repo) or "dataset". *dir malloc'd. */
lb_status lb_api_resolve(const char *id_or_dir, const char *kind, const char *revision, char **dir, lb_error *err);
/* Refuses a NULL argument the header does not allow: LB_ERR_USAGE "lb_fn: arg is NULL". Public
 * functions check their handles and output pointers with it before touching them. */
#define LB_API_NOT_NULL(arg)                                                            \
    do {                                                                                \
        if (!(arg)) return lb_err(err, LB_ERR_USAGE, "%s: %s is NULL", __func__, #arg); \
    } while (0)
/* dir/name exists. */
bool lb_api_dir_has(const char *dir, const char *name);
/* Sets the calling thread's OpenMP team size for the call (n <= 0: unchanged); returns the
 * previous value for lb_api_threads_restore. */
int lb_api_threads_push(int n);
void lb_api_threads_restore(int previous);
/* A `threads` option: 0..LB_API_MAX_THREADS, else LB_ERR_USAGE naming `what` (libgomp aborts the
 * process when it cannot create a team, so a team size beyond any machine is refused up front). */
#define LB_API_MAX_THREADS 4096
lb_status lb_api_threads_check(int n, const char *what, lb_error *err);
/* A copy of d whose labels and label names can be remapped (lb_labels_map) without touching d;
 * texts, pairs and sources are shared. Free with lb_api_dataset_view_free (not lb_dataset_free). */
struct lb_dataset;
lb_status lb_api_dataset_view(const struct lb_dataset *d, struct lb_dataset *view, lb_error *err);
void lb_api_dataset_view_free(struct lb_dataset *view);
struct lb_tokset;
/* A multi-label or regression model's targets for d's rows (tokenised into ts, in row order):
 * d opened with the same problem_type (LB_ERR_USAGE otherwise); regression: as many values per
 * row as the model's num_labels; multi-label: d's label columns matched to the model's labels by
 * name, in the model's order (a column the model lacks, or a model label no column gives, is
 * LB_ERR_FORMAT naming both sets). what names the data in messages. */
lb_status lb_api_set_targets(const struct lb_dataset *d, int problem, int num_labels, const char *const *labels,
                             const char *what, struct lb_tokset *ts, lb_error *err);
/* The classifier's tokenization settings and thread count (src/api/classifier.c). */
struct lb_tok_opts;
const struct lb_tok_opts *lb_api_classifier_tok_opts(const lb_classifier *c);
int lb_api_classifier_threads(const lb_classifier *c);
#endif
