/* TensorBoard event files, written without TensorFlow.
 *
 * Owns: the on-disk format TensorBoard reads: a TFRecord stream (per record: uint64 length,
 * masked CRC-32C of the length, the data, masked CRC-32C of the data; little-endian) of
 * protobuf-encoded tensorflow.Event messages. The first event carries file_version
 * "brain.Event:2"; each scalar is one Event {wall_time, step, summary {value {tag,
 * simple_value}}}, as torch.utils.tensorboard's SummaryWriter.add_scalar writes it. The file is
 * named as SummaryWriter names it: events.out.tfevents.<10-digit unix time>.<host>.<pid>.<n>.
 * Why: HF Trainer's TensorBoardCallback (report_to tensorboard) writes these; users point
 * `tensorboard --logdir` at a run's runs/ folder.
 * Guarantees: every record is written whole with one write() as it is added (readers see
 * complete records while the run goes on; TensorBoard skips a torn tail); errors are LB_ERR_IO
 * naming the file. Nothing is printed. */
#ifndef LB_FORMATS_TFEVENTS_H
#define LB_FORMATS_TFEVENTS_H
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include "base/error.h"

typedef struct lb_tfevents {
    int fd;     /* -1: closed */
    char *path; /* the event file */
} lb_tfevents;

/* CRC-32C (Castagnoli) of n bytes, continuing from crc (0 to start), and TFRecord's mask of it. */
uint32_t lb_crc32c(uint32_t crc, const void *p, size_t n);
uint32_t lb_crc32c_masked(const void *p, size_t n);

/* Creates dir (and its parents) and a new event file in it holding the file_version event at
 * wall_time. */
lb_status lb_tfevents_open(lb_tfevents *w, const char *dir, double wall_time, lb_error *err);
/* Appends one scalar event (value stored as float32, as simple_value is). */
lb_status lb_tfevents_scalar(lb_tfevents *w, const char *tag, double value, int64_t step, double wall_time,
                             lb_error *err);
/* Closes the file (no-op when closed). */
void lb_tfevents_close(lb_tfevents *w);

/* "Dec07_15-04-05_<host>": HF TrainingArguments' default logging_dir leaf
 * (datetime.now().strftime("%b%d_%H-%M-%S") + "_" + socket.gethostname()), local time, English
 * month abbreviations whatever the locale. */
void lb_tfevents_run_name(char *buf, size_t n, double unix_time);

#endif
