/* lorabert: fine-tune, evaluate and run BERT-family text classifiers with LoRA.
 *
 * Public C API. Every fallible function takes an `lb_error *err` (may be NULL) and returns a
 * status (LB_OK == 0) or NULL; on failure err->msg holds one human-readable line that names
 * the file, position and what was expected versus found. The library never calls exit().
 *
 * Module headers under src/ (safetensors.h, tokenizer.h, model.h, trainer.h, ...) hold the
 * full interfaces; this header is what a program embedding lorabert includes.
 */
#ifndef LORABERT_H
#define LORABERT_H

#include <stddef.h>
#include <stdint.h>
#include <stdbool.h>

#ifdef __cplusplus
extern "C" {
#endif

#define LORABERT_VERSION "0.1.0"

/* Status codes. The CLI exits with the same number, so they are stable and documented. */
typedef enum lb_status {
    LB_OK = 0,
    LB_ERR_INTERNAL = 1,     /* a bug in lorabert */
    LB_ERR_USAGE = 2,        /* bad command line / invalid argument */
    LB_ERR_IO = 3,           /* file missing, unreadable, unwritable, disk full */
    LB_ERR_FORMAT = 4,       /* file present but malformed (safetensors, json, csv, parquet, utf-8) */
    LB_ERR_UNSUPPORTED = 5,  /* valid input that lorabert does not support (architecture, codec) */
    LB_ERR_NOMEM = 6,        /* allocation failed */
    LB_ERR_NETWORK = 7,      /* hub unreachable, HTTP error */
    LB_ERR_NUMERIC = 8,      /* non-finite loss or gradient */
    LB_ERR_INTERRUPTED = 9,  /* stopped by SIGINT/SIGTERM after writing a checkpoint */
} lb_status;

#define LB_ERROR_MSG_MAX 1024
typedef struct lb_error {
    lb_status code;
    char msg[LB_ERROR_MSG_MAX];
} lb_error;

/* Short name of a status code ("format error", ...). */
const char *lb_status_name(lb_status code);

#ifdef __cplusplus
}
#endif
#endif /* LORABERT_H */
