/* For harnesses that read the same bytes from memory and from a file (the readers that take a
 * path read it in pieces: data/text_stream.h, data/parquet.h): one scratch file per process,
 * rewritten per input, named through /proc/self/fd so that no name is left behind. */
#ifndef LB_FUZZ_FILE_H
#define LB_FUZZ_FILE_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

/* The scratch file's path, holding data[0..size) (NULL when it cannot be written). */
static inline const char *fuzz_file_with(const uint8_t *data, size_t size) {
    static FILE *f;
    static char path[64];
    if (!f) {
        if (!(f = tmpfile())) return NULL;
        snprintf(path, sizeof path, "/proc/self/fd/%d", fileno(f));
    }
    int fd = fileno(f);
    if (ftruncate(fd, 0) != 0) return NULL;
    for (size_t off = 0; off < size;) {
        ssize_t k = pwrite(fd, data + off, size - off, (off_t)off);
        if (k <= 0) return NULL;
        off += (size_t)k;
    }
    return path;
}
#endif
