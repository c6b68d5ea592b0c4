/* safetensors: reader (mmap, zero-copy F32, F16/BF16 widened to F32, sharded checkpoints)
 * and writer (the reference layout: dtype-desc/name-asc order, header padded to 8 bytes,
 * __metadata__ first, atomic write). Validation follows safetensors' own `validate`. */
#ifndef LB_FORMATS_SAFETENSORS_H
#define LB_FORMATS_SAFETENSORS_H
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

typedef enum lb_dtype {
    LB_DT_BOOL,
    LB_DT_U8,
    LB_DT_I8,
    LB_DT_I16,
    LB_DT_U16,
    LB_DT_F16,
    LB_DT_BF16,
    LB_DT_I32,
    LB_DT_U32,
    LB_DT_F32,
    LB_DT_F64,
    LB_DT_I64,
    LB_DT_U64,
    LB_DT__COUNT
} lb_dtype;

#define LB_ST_MAX_DIMS 8
typedef struct lb_st_tensor {
    const char *name;
    lb_dtype dtype;
    int ndim;
    int64_t shape[LB_ST_MAX_DIMS];
    int64_t numel;
    const void *data; /* points into the mapping (read-only) */
    size_t nbytes;
    const char *file; /* the .safetensors file it came from (for messages) */
} lb_st_tensor;

typedef struct lb_st_file lb_st_file; /* one file, or every shard of an indexed checkpoint */

/* Opens one .safetensors file. */
lb_st_file *lb_st_open(const char *path, lb_error *err);
/* Parses a safetensors image already in memory (data must outlive the result; nothing is
 * copied). name is used in messages. Same validation as lb_st_open. */
lb_st_file *lb_st_open_mem(const void *data, size_t size, const char *name, lb_error *err);
/* Opens dir/model.safetensors, or the shards named by dir/model.safetensors.index.json. */
lb_st_file *lb_st_open_dir(const char *dir, lb_error *err);
void lb_st_close(lb_st_file *f);
/* Hands the pages of [p, p + bytes) back to the kernel when that range lies in one of f's file
 * mappings (a zero-copy F32 tensor): they leave the process's resident memory and are read
 * from the file again on the next access. Anything else (converted copies, lb_st_open_mem
 * images, other memory) is left alone. For weights a caller has copied elsewhere (packed). */
void lb_st_release(lb_st_file *f, const void *p, size_t bytes);

size_t lb_st_count(const lb_st_file *f);
const lb_st_tensor *lb_st_at(const lb_st_file *f, size_t i);
const lb_st_tensor *lb_st_find(const lb_st_file *f, const char *name);
/* Value of __metadata__[key], or NULL. */
const char *lb_st_metadata(const lb_st_file *f, const char *key);

/* The tensor as F32: zero-copy into the mapping when already F32 and aligned, otherwise
 * converted (F16, BF16, F64, integer types) into a buffer the lb_st_file owns (cached: a second
 * call returns the same buffer). Valid until lb_st_close. Not thread-safe on one lb_st_file:
 * convert from one thread. */
const float *lb_st_f32(lb_st_file *f, const lb_st_tensor *t, lb_error *err);

const char *lb_dtype_name(lb_dtype dt);

/* Writer. */
typedef struct lb_st_out {
    const char *name;
    lb_dtype dtype;
    int ndim;
    int64_t shape[LB_ST_MAX_DIMS];
    const void *data; /* numel * dtype size bytes, little-endian, C order */
} lb_st_out;
/* Writes the tensors in the reference layout, atomically (temp file + fsync + rename).
 * meta: NULL-terminated array of key,value string pairs (e.g. {"format","pt",NULL}) or NULL;
 * written in the given order (the reference writes a HashMap, so with 2+ keys its order is
 * random and byte identity is defined only for 0 or 1 key). Names must be unique, non-empty,
 * valid UTF-8 and not "__metadata__"; shapes non-negative; data non-NULL unless empty. */
lb_status lb_st_write(const char *path, const lb_st_out *tensors, size_t n, const char *const *meta, lb_error *err);

#endif
