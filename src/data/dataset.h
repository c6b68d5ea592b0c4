/* A labelled text dataset for classification: texts, optional text pairs, class indices and
 * label names, and which file each row came from. Owns the value only: reading a file into one
 * is data/load.h's, the label rule data/labels.h's, a split's shards data/splits.h's. (The
 * public API's opaque lb_dataset is this struct.) */
#ifndef LB_DATA_DATASET_H
#define LB_DATA_DATASET_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

/* What the label column held: nothing (no column, or only nulls), class ids, or label names. */
typedef enum lb_label_kind { LB_LABEL_KIND_NONE = 0, LB_LABEL_KIND_INT, LB_LABEL_KIND_STR } lb_label_kind;

/* Multi-label targets read from one column of lists (data/labels.h, lb_targets_read_lists): what
 * the lists held. NONE: the targets come from label columns (or there are none). */
typedef enum lb_target_list {
    LB_TARGET_LIST_NONE = 0,
    LB_TARGET_LIST_NAMES,    /* label names; target k is target_names[k] (sorted, byte order) */
    LB_TARGET_LIST_IDS,      /* class ids; target k is class k (n_targets: the largest id + 1) */
    LB_TARGET_LIST_MULTI_HOT /* 0/1 vectors of n_targets values, in the model's label order */
} lb_target_list;

typedef struct lb_dataset {
    size_t n;
    char **texts;      /* [n] UTF-8, NUL-terminated */
    char **text_pairs; /* [n] or NULL */
    int32_t *labels;   /* [n] class index in [0,num_labels), or -1 when the file has no label column */
    int num_labels;
    char **label_names; /* [num_labels] or NULL (int labels without names) */
    lb_label_kind label_kind;
    /* Where the rows came from, for messages: rows [source_start[i], source_start[i+1]) are data
     * rows 0.. of sources[i] (shards concatenated by lb_data_load_shards). */
    int n_sources;
    char **sources;       /* [n_sources] file paths */
    size_t *source_start; /* [n_sources] */
    /* A shard of a data-parallel read (lb_dataset_options.shard_*): rows are blocks
     * shard_index, shard_index + shard_count, ... of shard_block rows of the split.
     * shard_count 0: every row. */
    int shard_count, shard_index, shard_block;
    /* Multi-label and regression data (lb_dataset_opts.problem): n_targets values per row (0/1 per
     * label, or the real values); labels[] are then 0 and label_kind NONE. target_names
     * [n_targets]: the label columns' names (multi-label), else NULL. */
    float *targets; /* [n * n_targets] or NULL */
    int n_targets;
    char **target_names;
    /* Multi-label targets from a list column: its kind (target_names [n_targets] for NAMES, NULL
     * for IDS and MULTI_HOT); NONE for label columns. */
    lb_target_list target_list;
} lb_dataset;

void lb_dataset_free(lb_dataset *d);
/* "PATH: row R" of dataset row i (its file and 0-based data row there) into buf. */
void lb_dataset_where(const lb_dataset *d, size_t i, char *buf, size_t cap);

#endif
