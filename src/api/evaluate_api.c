/* lb_evaluate_dataset: a classifier over a dataset as Trainer.evaluate() computes it. The
 * dataset's labels are mapped onto the classifier's classes through a view (data/labels.h,
 * exact names: a label the model does not know is an error, never sorted onto its classes),
 * tokenized with the classifier's length and truncation, and run in eval mode. */
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/strlist.h"
#include "data/labels.h"
#include "model/model.h"
#include "train/trainer.h"

lb_status lb_evaluate_dataset(lb_classifier *c, const lb_dataset *d, const lb_eval_options *opts, lb_eval_result *out,
                              lb_error *err) {
    lb_eval_options o = {0};
    if (opts) o = *opts;
    LB_API_NOT_NULL(c);
    LB_API_NOT_NULL(d);
    LB_API_NOT_NULL(out);
    if (o.batch_size < 0) return lb_err(err, LB_ERR_USAGE, "evaluate: batch_size %d is negative", o.batch_size);
    memset(out, 0, sizeof *out);
    lb_model *m = lb_classifier_model(c);
    lb_model_info info;
    lb_model_get_info(m, &info);
    const int problem = lb_model_get_config(m)->problem;
    if (!(o.threshold >= 0 && o.threshold < 1))
        return lb_err(err, LB_ERR_USAGE, "evaluate: threshold %g: expected 0 < threshold < 1", o.threshold);
    lb_dataset view;
    lb_status st = lb_api_dataset_view(d, &view, err);
    if (st) return st;
    lb_label_spec spec = {.names = info.labels,
                          .n_names = info.num_labels,
                          .policy = LB_LABELS_EXACT,
                          .origin = info.adapter_dir ? "the model's labels (adapter labels.json or config.json)"
                                                     : "the model's config.json id2label"};
    char **names = NULL;
    int n_names = 0;
    if (!problem) st = lb_labels_map(&view, 1, &spec, &names, &n_names, NULL, err);
    lb_free_list(names);
    const lb_tok_opts *to = lb_api_classifier_tok_opts(c);
    lb_tokset ts = {0};
    size_t *lens = NULL;
    if (!st && !(lens = malloc(sizeof *lens * 2 * (view.n ? view.n : 1))))
        st = lb_err(err, LB_ERR_NOMEM, "out of memory");
    if (!st) {
        size_t *plens = lens + view.n;
        for (size_t i = 0; i < view.n; i++) {
            lens[i] = strlen(view.texts[i]);
            if (view.text_pairs) plens[i] = strlen(view.text_pairs[i]);
        }
        int prev = lb_api_threads_push(lb_api_classifier_threads(c));
        st = lb_tokset_build_pairs(&ts, lb_classifier_tokenizer(c), (const char *const *)view.texts, lens,
                                   (const char *const *)view.text_pairs, plens, view.labels, (int64_t)view.n,
                                   info.num_labels, to->max_length, to->truncate_left,
                                   view.n_sources ? view.sources[0] : "dataset", err);
        if (!st && problem)
            st = lb_api_set_targets(d, problem, info.num_labels, info.labels,
                                    view.n_sources ? view.sources[0] : "dataset", &ts, err);
        const lb_loss_spec loss = {.problem = problem, .threshold = o.threshold};
        const int bs = o.batch_size ? o.batch_size : 8;
        const lb_collective *coll = o.collective;
        bool shard = coll && coll->size > 1 && d->shard_count > 1;
        if (!st && shard && (d->shard_count != coll->size || d->shard_index != coll->rank || d->shard_block != bs))
            st = lb_err(err, LB_ERR_USAGE,
                        "evaluate: the dataset is shard %d of %d in blocks of %d rows; process %d of %d evaluating "
                        "batches of %d needs shard %d of %d in blocks of %d",
                        d->shard_index, d->shard_count, d->shard_block, coll->rank, coll->size, bs, coll->rank,
                        coll->size, bs);
        if (!st) st = lb_evaluate_shard_loss(m, &ts, bs, coll, shard, &loss, out, err);
        lb_api_threads_restore(prev);
    }
    free(lens);
    lb_tokset_free(&ts);
    lb_api_dataset_view_free(&view);
    return st;
}
