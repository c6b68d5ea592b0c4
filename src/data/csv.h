/* CSV/TSV reader (RFC 4180): header row, quoted fields with delimiters, doubled quotes and
 * newlines, UTF-8 BOM, LF/CRLF/CR line ends. Every cell is LB_VAL_STR except an empty
 * unquoted field, which is LB_VAL_NULL (as pandas reads it); dataset.c interprets values.
 * Files are read through a bounded window (data/text_stream.h): one record at most
 * LB_MAX_RECORD_BYTES, the file any size. */
#ifndef LB_DATA_CSV_H
#define LB_DATA_CSV_H
#include "data/table.h"
#include "data/text_stream.h"

/* Reads the file at path; delim is ',' for CSV or '\t' for TSV. */
lb_status lb_csv_read(const char *path, char delim, lb_table *out, lb_error *err);
/* lb_csv_read keeping only the rows keep keeps (NULL: all); keep->seen gets the file's rows. */
lb_status lb_csv_read_rows(const char *path, char delim, lb_row_filter *keep, lb_table *out, lb_error *err);
/* Parses data[0..len) (need not be NUL-terminated); name is used in messages as "name:line". */
lb_status lb_csv_parse(const char *data, size_t len, char delim, const char *name, lb_table *out, lb_error *err);
/* lb_csv_read_rows from an open stream (its name in messages); the caller closes it. */
lb_status lb_csv_read_stream(lb_text_stream *ts, char delim, lb_row_filter *keep, lb_table *out, lb_error *err);
#endif
