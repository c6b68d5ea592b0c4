/* See train_support.h. */
#include "train_support.h"
#include <string.h>

lb_status train_once(lb_model *m, const lb_tokset *train, const lb_tokset *eval, const lb_train_opts *o,
                     lb_train_result *res, lb_error *err) {
    memset(res, 0, sizeof *res);
    lb_trainer *t;
    lb_status st = lb_trainer_open(m, train, eval, o, NULL, &t, err);
    if (st) return st;
    lb_train_result r;
    st = lb_trainer_run(t, &r, err);
    lb_trainer_close(t);
    if (!st) *res = r;
    return st;
}
