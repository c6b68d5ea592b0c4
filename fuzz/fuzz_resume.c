/* libFuzzer harness for the resume checkpoint reader (src/train/resume.c): any bytes as
 * resume.json must be accepted or refused with a message, never crash or leak, and an accepted
 * file must satisfy every bound the trainer indexes with (resume.h). */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "train/resume.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* The run of fuzz/corpus/resume: 10 rows, 3 epochs of 3 steps, 2 labels, 4 validation rows. */
    const lb_resume_dims dims[2] = {
        {.n_train = 10,
         .n_eval = 4,
         .epochs = 3,
         .batch_size = 4,
         .seed = 42,
         .steps_per_epoch = 3,
         .total_steps = 9,
         .num_labels = 2,
         .fixed_order = false,
         .precision = "fp32",
         .run_options = "label_smoothing_factor=0;class_weights=none;eval_strategy=steps;eval_steps=2"},
        {.n_train = 10,
         .n_eval = 0,
         .epochs = 3,
         .batch_size = 4,
         .seed = 42,
         .steps_per_epoch = 3,
         .total_steps = 9,
         .num_labels = 2,
         .fixed_order = true,
         .precision = "fp32"},
    };
    for (int k = 0; k < 2; k++) {
        const lb_resume_dims *d = &dims[k];
        lb_resume r;
        lb_error err;
        if (lb_resume_parse((const char *)data, size, "resume.json", d, &r, &err) != LB_OK) {
            if (!err.msg[0]) abort();
            continue;
        }
        if (r.epoch < 0 || r.epoch >= d->epochs || r.step_in_epoch < 0 || r.step_in_epoch >= d->steps_per_epoch ||
            r.global_step != r.epoch * d->steps_per_epoch + r.step_in_epoch || r.best_epoch < 0 ||
            r.best_epoch > r.epoch + 1 || (d->n_eval == 0 && r.best_epoch) ||
            (r.best_epoch && (r.best_step <= (r.best_epoch - 1) * d->steps_per_epoch ||
                              r.best_step > r.best_epoch * d->steps_per_epoch || r.best_step > r.global_step)) ||
            (!r.best_epoch && r.best_step) || r.es_counter < 0 || r.es_counter > r.global_step)
            abort();
        if (r.order_valid && !d->fixed_order) {
            int seen[10] = {0};
            for (int i = 0; i < 10; i++) {
                if (r.order[i] < 0 || r.order[i] >= 10 || seen[r.order[i]]++) abort();
            }
        }
        if (!r.rows || r.nhist < 0 || r.nfiles < 0 || r.nfiles > LB_RESUME_MAX_FILES) abort();
        lb_resume_free(&r);
    }
    return 0;
}
