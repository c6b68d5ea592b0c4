/* JSON Lines reader: one JSON object per line (blank lines skipped); a file whose first
 * non-blank character is '[' is read as one JSON array of objects instead (HF's other .json
 * layout). Columns are the union of keys in order of first appearance; a key missing from a
 * row is LB_VAL_NULL. Values: integer literals -> LB_VAL_INT (if they fit int64, else FLOAT),
 * other numbers FLOAT, strings STR, null NULL, true/false BOOL, arrays/objects -> STR holding
 * their compact JSON text. A string holding \u0000 is rejected (UNSUPPORTED).
 * JSON Lines are read through a bounded window (data/text_stream.h: one line at most
 * LB_MAX_RECORD_BYTES, the file any size); an array file is read whole (at most
 * LB_MAX_DATASET_BYTES). */
#ifndef LB_DATA_JSONL_H
#define LB_DATA_JSONL_H
#include "data/table.h"
#include "data/text_stream.h"

lb_status lb_jsonl_read(const char *path, lb_table *out, lb_error *err);
/* lb_jsonl_read keeping only the rows keep keeps (NULL: all); keep->seen gets the file's rows. */
lb_status lb_jsonl_read_rows(const char *path, lb_row_filter *keep, lb_table *out, lb_error *err);
/* Parses data[0..len); name is used in messages as "name:line". */
lb_status lb_jsonl_parse(const char *data, size_t len, const char *name, lb_table *out, lb_error *err);
/* lb_jsonl_read_rows from an open stream (its name in messages); the caller closes it. */
lb_status lb_jsonl_read_stream(lb_text_stream *ts, lb_row_filter *keep, lb_table *out, lb_error *err);
#endif
