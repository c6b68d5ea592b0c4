/* Evaluation of a model on a tokenised set, as HF Trainer.evaluate() does it.
 *
 * Owns: the eval loop: eval mode (no dropout), sequential batches of batch_size with dynamic
 * padding, the per-sample-weighted mean cross-entropy (each batch's mean loss times its size)
 * and the classification metrics from the confusion matrix (train/metrics.h).
 * Why: per-epoch evaluation, best-model tracking, `lorabert eval` and the public
 * lb_evaluate_dataset must compute eval_loss exactly as HF, whatever the batch size.
 * Guarantees: the model's parameters are not changed; *res is zeroed on failure; logits_out,
 * when given, receives every example's logits in row order. */
#ifndef LB_TRAIN_EVALUATE_H
#define LB_TRAIN_EVALUATE_H
#include <stdbool.h>
#include "base/error.h"
#include "model/model.h"
#include "kernels/kernels.h"
#include "train/metrics.h"
#include "train/tokset.h"

/* lb_eval_result (HF eval_loss + metrics) is defined in lorabert.h. */

/* Eval mode (no dropout), sequential batches of batch_size, dynamic padding. logits_out
 * [n, num_labels] may be NULL. A non-finite logit (NaN/Inf, as torch would compute it) or a
 * non-finite mean loss is LB_ERR_NUMERIC naming the example (0-based row of data): no metrics
 * are computed from it. coll (NULL: one process) shares the batches: batch b on rank b % size,
 * gathered and reduced in batch order, so every process gets the one-process result bit for bit
 * (logits_out must then be NULL). */
lb_status lb_evaluate(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll,
                      lb_eval_result *res, float *logits_out, lb_error *err);
/* lb_evaluate where, with shard and a collective of size P > 1, data is this process's shard:
 * blocks rank, rank + P, ... of batch_size rows of the whole set (lb_dataset_options.shard_*), so
 * its k-th batch is the whole set's batch k * P + rank; the result is the whole set's, bit for
 * bit as one process computes it. Without shard: as lb_evaluate. */
lb_status lb_evaluate_shard(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll, bool shard,
                            lb_eval_result *res, float *logits_out, lb_error *err);
/* lb_evaluate with each batch's loss under loss (NULL: plain cross-entropy): what HF's Trainer
 * reports as eval_loss when its compute_loss smooths or weights the loss. */
lb_status lb_evaluate_loss(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll,
                           const lb_loss_spec *loss, lb_eval_result *res, float *logits_out, lb_error *err);
/* lb_evaluate_shard under loss (NULL: plain cross-entropy); multi-label and regression sets
 * (loss->problem) need data's targets. */
lb_status lb_evaluate_shard_loss(lb_model *m, const lb_tokset *data, int batch_size, const lb_collective *coll,
                                 bool shard, const lb_loss_spec *loss, lb_eval_result *res, lb_error *err);

#endif
