/* The dataset value (see dataset.h): freeing it and naming where a row came from. Loading a
 * file into one is load.c's; the label rule is labels.c's. */
#include "data/dataset.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void lb_dataset_free(lb_dataset *d) {
    if (!d) return;
    for (size_t i = 0; i < d->n; i++) {
        if (d->texts) free(d->texts[i]);
        if (d->text_pairs) free(d->text_pairs[i]);
    }
    free(d->texts);
    free(d->text_pairs);
    free(d->labels);
    free(d->targets);
    if (d->target_names)
        for (int i = 0; i < d->n_targets; i++) free(d->target_names[i]);
    free(d->target_names);
    if (d->label_names)
        for (int i = 0; i < d->num_labels; i++) free(d->label_names[i]);
    free(d->label_names);
    for (int i = 0; i < d->n_sources; i++) free(d->sources[i]);
    free(d->sources);
    free(d->source_start);
    memset(d, 0, sizeof *d);
}

void lb_dataset_where(const lb_dataset *d, size_t i, char *buf, size_t cap) {
    int s = d->n_sources - 1;
    while (s > 0 && d->source_start[s] > i) s--;
    if (s < 0) snprintf(buf, cap, "row %zu", i);
    else snprintf(buf, cap, "%s: row %zu", d->sources[s], i - d->source_start[s]);
}
