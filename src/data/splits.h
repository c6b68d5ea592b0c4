/* Splits of Hugging Face datasets: which files make a split (a local file, a local dataset
 * folder or a hub dataset id resolved into the HF cache), and loading a split's shards as one
 * dataset. The label rule is data/labels.h's. */
#ifndef LB_DATA_SPLITS_H
#define LB_DATA_SPLITS_H
#include "base/error.h"
#include "data/load.h"

/* The files of one split. dataset is a data file (the split is that file), a local HF dataset
 * folder, or a hub dataset id (downloaded into the HF cache, formats/hub.h). In a folder, in this
 * order: <split>.<ext> or <split>[-._]*.<ext> at the top level, then data/, then the
 * refs/convert/parquet layout <config>/<split>/NNNN.parquet (config "default" first, else the
 * first by name). Files named <split>-* are shards: all of them, sorted by name, make the split.
 * ext: parquet, csv, jsonl, json, tsv. *paths is a NULL-terminated list (lb_free_list); *n its
 * count. No such split: LB_ERR_IO; a split name with '/' or "." / "..": LB_ERR_USAGE. */
lb_status lb_data_resolve_split(const char *dataset, const char *split, char ***paths, int *n, lb_error *err);

/* Loads the shards paths[0..n) (lb_dataset_load with opts; NULL opts: labels required) and concatenates
 * them in order. Label names of all shards map onto their sorted union, or, when
 * opts->label_names is given, exactly onto those names (lb_labels_map, LB_LABELS_EXACT); shards
 * of class ids and shards of label names together are an error naming a row of each.
 * out->sources records which rows came from which file. */
lb_status lb_data_load_shards(char *const *paths, int n, const lb_dataset_opts *opts, lb_dataset *out, lb_error *err);

#endif
