/* Tests for src/formats/tfevents: CRC-32C, TFRecord framing and the Event encoding, read back
 * byte by byte (tests/cli/tensorboard.sh reads the files with TensorBoard's own reader). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "base/fileio.h"
#include "formats/tfevents.h"

Test(tfevents, crc32c_check_values) {
    cr_assert_eq(lb_crc32c(0, "123456789", 9), 0xE3069283u); /* the CRC-32C check value */
    cr_assert_eq(lb_crc32c(0, "", 0), 0u);
    /* incremental == one shot */
    cr_assert_eq(lb_crc32c(lb_crc32c(0, "1234", 4), "56789", 5), 0xE3069283u);
    uint32_t c = 0xE3069283u;
    cr_assert_eq(lb_crc32c_masked("123456789", 9), ((c >> 15) | (c << 17)) + 0xa282ead8u);
}

static uint64_t le(const unsigned char *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = v << 8 | p[i];
    return v;
}

Test(tfevents, records_and_events) {
    char dir[] = "/tmp/lbtfevXXXXXX";
    cr_assert_not_null(mkdtemp(dir));
    char sub[256];
    snprintf(sub, sizeof sub, "%s/runs/a", dir);
    lb_tfevents w;
    lb_error err;
    cr_assert_eq(lb_tfevents_open(&w, sub, 1700000000.25, &err), LB_OK, "%s", err.msg);
    char *path = strdup(w.path);
    cr_assert(strstr(path, "/runs/a/events.out.tfevents.1700000000."), "%s", path);
    cr_assert_eq(lb_tfevents_scalar(&w, "train/loss", 0.5, 3, 1700000001.5, &err), LB_OK, "%s", err.msg);
    lb_tfevents_close(&w);
    lb_tfevents_close(&w); /* twice is fine */
    char *data;
    size_t n;
    cr_assert_eq(lb_read_file(path, &data, &n, &err), LB_OK, "%s", err.msg);
    const unsigned char *p = (const unsigned char *)data, *end = p + n;
    int records = 0;
    while (p < end) {
        cr_assert(end - p >= 16);
        uint64_t len = le(p, 8);
        cr_assert_eq((uint32_t)le(p + 8, 4), lb_crc32c_masked(p, 8));
        cr_assert((uint64_t)(end - p) >= 16 + len);
        cr_assert_eq((uint32_t)le(p + 12 + len, 4), lb_crc32c_masked(p + 12, len));
        const unsigned char *e = p + 12;
        double wt;
        cr_assert_eq(e[0], 0x09); /* field 1, fixed64 */
        memcpy(&wt, e + 1, 8);
        if (records == 0) {
            cr_assert_eq(wt, 1700000000.25);
            static const char fv[] = "\x1a\x0d"
                                     "brain.Event:2";
            cr_assert_eq(len, 9 + sizeof fv - 1);
            cr_assert(!memcmp(e + 9, fv, sizeof fv - 1));
        } else {
            cr_assert_eq(wt, 1700000001.5);
            /* step 3, then summary { value { tag "train/loss", simple_value 0.5f } } */
            static const unsigned char want[] = {0x10, 3,   0x2a, 19,  0x0a, 17,  0x0a, 10,   't',  'r',  'a', 'i',
                                                 'n',  '/', 'l',  'o', 's',  's', 0x15, 0x00, 0x00, 0x00, 0x3f};
            cr_assert_eq(len, 9 + sizeof want);
            cr_assert(!memcmp(e + 9, want, sizeof want));
        }
        p += 16 + len;
        records++;
    }
    cr_assert_eq(records, 2);
    free(data);
    /* a second file of this process in the same second gets another name */
    cr_assert_eq(lb_tfevents_open(&w, sub, 1700000000.25, &err), LB_OK, "%s", err.msg);
    cr_assert_str_neq(w.path, path);
    lb_tfevents_close(&w);
    cr_assert_eq(lb_tfevents_scalar(&w, "x", 1, 1, 1, &err), LB_ERR_USAGE);
    free(path);
    char cmd[300];
    snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
    cr_assert_eq(system(cmd), 0);
}

Test(tfevents, run_name_is_hf_logging_dir_leaf) {
    char buf[512], host[256] = "";
    gethostname(host, sizeof host - 1);
    setenv("TZ", "UTC", 1);
    tzset();
    lb_tfevents_run_name(buf, sizeof buf, 1700000000.0); /* 2023-11-14 22:13:20 UTC */
    char want[512];
    snprintf(want, sizeof want, "Nov14_22-13-20_%s", host);
    cr_assert_str_eq(buf, want);
}
