/* Saving through the public API: a PEFT adapter folder, and a merged plain HF model folder
 * (PEFT merge_and_unload + save_pretrained). Both folders are written whole in a staging
 * folder beside the target and published in one rename under the target's writer lock
 * (base/outdir.h); a target that is, holds or lies inside an input folder is refused (writing
 * it would destroy the input), and so is an existing folder holding files the save does not
 * write. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "api/api.h"
#include "base/fileio.h"
#include "base/outdir.h"
#include "model/peft.h"
#include "model/model.h"
#include "text/tokenizer.h"

static const char *const merge_files[] = {"config.json", "model.safetensors",     "tokenizer.json",
                                          "vocab.txt",   "tokenizer_config.json", "special_tokens_map.json",
                                          NULL};

static bool in_list(const char *const *list, const char *name) {
    for (const char *const *f = list; *f; f++)
        if (!strcmp(*f, name)) return true;
    return false;
}

/* Refuses an output folder that overlaps an input folder. */
static lb_status check_overlap(const char *out, const char *out_arg, const char *in, const char *what, lb_error *err) {
    if (!in) return LB_OK;
    char *c = NULL;
    lb_status st = lb_path_canonical(in, &c, err);
    if (st) return st;
    if (!strcmp(out, c)) st = lb_err(err, LB_ERR_USAGE, "output %s is the %s folder", out_arg, what);
    else if (lb_path_within(out, c))
        st = lb_err(err, LB_ERR_USAGE, "output %s lies inside the %s folder %s", out_arg, what, in);
    else if (lb_path_within(c, out))
        st = lb_err(err, LB_ERR_USAGE, "output %s holds the %s folder %s", out_arg, what, in);
    free(c);
    return st;
}

/* Locks and cleans the target; refuses one holding entries this save does not write. */
static lb_status open_output(const char *out, const char *out_arg, const char *const *files, const char *what,
                             lb_outdir_lock *lk, lb_error *err) {
    lb_status st = lb_outdir_lock_acquire(out, lk, err);
    if (!st) st = lb_outdir_clean(out, err);
    if (st || !lb_dir_exists(out)) return st;
    if ((st = lb_outdir_clean_inside(out, files, NULL, err))) return st;
    char **names;
    int n;
    if ((st = lb_dir_list(out, &names, &n, err))) return st;
    char list[512] = "";
    size_t used = 0;
    int nforeign = 0;
    for (int i = 0; i < n; i++) {
        if (in_list(files, names[i])) continue;
        if (nforeign++ < 6 && used + 1 < sizeof list) {
            int w = snprintf(list + used, sizeof list - used, "%s%s", used ? ", " : "", names[i]);
            if (w > 0) used += (size_t)w;
        }
    }
    if (nforeign > 6 && used + 1 < sizeof list)
        snprintf(list + used, sizeof list - used, ", ... (%d entries)", nforeign);
    if (nforeign)
        st = lb_err(err, LB_ERR_USAGE,
                    "%s: the output folder holds entries %s does not write (%s); %s replaces only "
                    "its own files: choose an empty or new folder",
                    out_arg, what, list, what);
    lb_dir_list_free(names);
    return st;
}

/* The common frame: target checks, lock, staging; write() fills the staging folder. merge: the
 * model (m itself) whose adapter is folded in once every check has passed and the lock is held,
 * so a refused target leaves the model as it was; NULL for an adapter save. */
static lb_status save_folder(const lb_model *m, lb_model *merge, const char *dir, const char *const *files,
                             const char *what, lb_status (*write)(const lb_model *m, const char *dir, lb_error *err),
                             lb_error *err) {
    if (!dir || !*dir) return lb_err(err, LB_ERR_USAGE, "%s: the output folder name is empty", what);
    lb_model_info info;
    lb_model_get_info(m, &info);
    char *out = NULL;
    lb_outdir_lock lock = {.fd = -1};
    lb_staging sg = {0};
    lb_status st = lb_outdir_check_target(dir, "output", err);
    if (!st) st = lb_path_canonical(dir, &out, err);
    if (!st) st = check_overlap(out, dir, info.model_dir, "model", err);
    if (!st) st = check_overlap(out, dir, info.adapter_dir, "adapter", err);
    if (!st && strcmp(info.tokenizer_dir, info.model_dir) &&
        !(info.adapter_dir && !strcmp(info.tokenizer_dir, info.adapter_dir)))
        st = check_overlap(out, dir, info.tokenizer_dir, "tokenizer", err);
    if (!st) st = open_output(out, dir, files, what, &lock, err);
    if (!st && merge) st = lb_model_merge_lora(merge, err);
    if (!st) st = lb_staging_begin(&sg, out, err);
    if (!st && (st = write(m, sg.dir, err)) == LB_ERR_NUMERIC) lb_err_prefix(err, "%s", dir); /* not the staging name */
    if (!st) st = lb_staging_commit(&sg, err);
    lb_staging_abort(&sg); /* not published: the target is unchanged */
    lb_outdir_lock_release(&lock);
    free(out);
    return st;
}

static lb_status write_adapter(const lb_model *m, const char *dir, lb_error *err) {
    lb_model_info info;
    lb_model_get_info(m, &info);
    return lb_peft_save_folder(m, dir, info.model_dir, info.tokenizer_dir, NULL, false, err);
}

lb_status lb_model_save_adapter(const lb_model *m, const char *dir, lb_error *err) {
    LB_API_NOT_NULL(m);
    if (!lb_model_get_lora(m)) return lb_err(err, LB_ERR_USAGE, "save adapter: the model holds no adapter");
    return save_folder(m, NULL, dir, lb_peft_folder_files, "saving an adapter", write_adapter, err);
}

static lb_status write_merged(const lb_model *m, const char *dir, lb_error *err) {
    lb_model_info info;
    lb_model_get_info(m, &info);
    lb_status st = lb_model_save(m, dir, err);
    if (!st) st = lb_tokenizer_copy_files(info.tokenizer_dir, dir, err);
    return st;
}

lb_status lb_model_save_merged(lb_model *m, const char *dir, lb_error *err) {
    LB_API_NOT_NULL(m);
    if (!lb_model_get_lora(m)) return lb_err(err, LB_ERR_USAGE, "merge: the model holds no adapter");
    if (lb_model_in_run(m))
        return lb_err(err, LB_ERR_USAGE, "merge: a training run holds the model (close the run first)");
    /* the target is checked and locked first: a refused one leaves the adapter unmerged */
    return save_folder(m, m, dir, merge_files, "merge", write_merged, err);
}
