/* Training progress on a terminal or in a log; see progress.h. */
#include "cli/progress.h"
#include <math.h>
#include <unistd.h>

void cli_progress_init(cli_progress *p, FILE *f) {
    p->f = f;
    p->tty = isatty(fileno(f)) != 0;
    p->line_open = false;
    p->table_started = false;
    p->eval_epoch = 0;
}

static void close_line(cli_progress *p) {
    if (!p->line_open) return;
    fputc('\n', p->f);
    p->line_open = false;
}

void cli_progress_end(cli_progress *p) {
    close_line(p);
    fflush(p->f);
}

static void fmt_eta(char *buf, size_t n, double s) {
    if (!isfinite(s) || s < 0) {
        snprintf(buf, n, "--:--");
        return;
    }
    long t = (long)(s + 0.5);
    if (t >= 3600) snprintf(buf, n, "%ld:%02ld:%02ld", t / 3600, (t / 60) % 60, t % 60);
    else snprintf(buf, n, "%02ld:%02ld", t / 60, t % 60);
}

static void on_step(void *user, const lb_step_info *s) {
    cli_progress *p = user;
    char eta[32];
    fmt_eta(eta, sizeof eta, s->eta_s);
    if (p->tty) {
        fprintf(p->f, "\repoch %d/%d  step %lld/%lld  loss %.4f  lr %.3e  %.0f tok/s  ETA %s   ", s->epoch,
                s->num_epochs, (long long)s->step, (long long)s->total_steps, s->loss, s->learning_rate,
                s->tokens_per_s, eta);
        p->line_open = true;
        fflush(p->f);
        return;
    }
    /* about ten lines per epoch in logs */
    const int64_t every = s->steps_per_epoch / 10 > 0 ? s->steps_per_epoch / 10 : 1;
    if (s->step_in_epoch % every) return;
    fprintf(p->f, "epoch %d/%d step %lld/%lld loss %.4f lr %.3e %.0f tok/s ETA %s\n", s->epoch, s->num_epochs,
            (long long)s->step, (long long)s->total_steps, s->loss, s->learning_rate, s->tokens_per_s, eta);
    fflush(p->f);
}

static void on_epoch(void *user, const lb_epoch_info *e) {
    cli_progress *p = user;
    close_line(p);
    const bool reg = e->evaluated && e->eval.problem_type == LB_PROBLEM_REGRESSION;
    if (!p->table_started)
        fprintf(p->f, "%-6s %-14s %-16s %-9s %-10s %-9s %-9s\n", "Epoch", "Training Loss", "Validation Loss",
                reg ? "Mse" : "Accuracy", reg ? "Mae" : "Precision", reg ? "Pearson" : "Recall",
                reg ? "Spearman" : "F1");
    p->table_started = true;
    char tl[32];
    if (isnan(e->logged_loss)) snprintf(tl, sizeof tl, "No log");
    else snprintf(tl, sizeof tl, "%.6f", e->logged_loss);
    const lb_eval_result *ev = e->evaluated ? &e->eval : p->eval_epoch == e->epoch ? &p->eval : NULL;
    char at[48] = ""; /* eval strategy steps: the epoch's last evaluation, named by its step */
    if (ev && !e->evaluated) snprintf(at, sizeof at, " (eval at step %lld)", (long long)p->eval_step);
    if (ev && reg)
        fprintf(p->f, "%-6d %-14s %-16.6f %-9.6f %-10.6f %-9.6f %-9.6f%s\n", e->epoch, tl, ev->loss, ev->mse, ev->mae,
                ev->pearson, ev->spearman, at);
    else if (ev)
        fprintf(p->f, "%-6d %-14s %-16.6f %-9.6f %-10.6f %-9.6f %-9.6f%s\n", e->epoch, tl, ev->loss,
                ev->metrics.accuracy, ev->metrics.precision, ev->metrics.recall, ev->metrics.f1, at);
    else fprintf(p->f, "%-6d %-14s %-16s\n", e->epoch, tl, "-");
    fflush(p->f);
}

/* An evaluation of --eval-strategy steps: one line; the epoch's row shows the epoch's last. */
static void on_evaluate(void *user, const lb_epoch_info *e) {
    cli_progress *p = user;
    close_line(p);
    p->eval_epoch = e->epoch;
    p->eval_step = e->step;
    p->eval = e->eval;
    fprintf(p->f, "eval at step %lld (epoch %.2f): loss %.6f accuracy %.6f precision %.6f recall %.6f f1 %.6f%s%s%s\n",
            (long long)e->step, e->epoch_progress, e->eval.loss, e->eval.metrics.accuracy, e->eval.metrics.precision,
            e->eval.metrics.recall, e->eval.metrics.f1, e->checkpoint_dir ? ", saved " : "",
            e->checkpoint_dir ? e->checkpoint_dir : "", e->is_best ? " (best so far)" : "");
    fflush(p->f);
}

static void on_log(void *user, const char *line) {
    cli_progress *p = user;
    close_line(p);
    fprintf(p->f, "%s\n", line);
    fflush(p->f);
}

lb_train_callbacks cli_progress_callbacks(cli_progress *p, volatile int *cancel) {
    lb_train_callbacks cb = {.user = p,
                             .on_step = on_step,
                             .on_epoch = on_epoch,
                             .on_log = on_log,
                             .cancel = cancel,
                             .on_evaluate = on_evaluate};
    return cb;
}
