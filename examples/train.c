/* Fine-tunes a classifier with LoRA (the seed recipe: r=4, alpha=32, dropout 0.01 on the query
 * projection; HF TrainingArguments' defaults from lb_train_options_init) and saves the adapter,
 * through the installed library only. Prints HF's per-epoch table from the on_epoch callback.
 *   train MODEL TRAIN VALIDATION OUTPUT [EPOCHS [MAX_LENGTH]]
 * TRAIN / VALIDATION: CSV, JSONL, Parquet or HF dataset folders with "text" and "label" columns. */
#include <lorabert.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static void on_epoch(void *user, const lb_epoch_info *e) {
    (void)user;
    /* HF's "Training Loss" column: the last logged loss (every logging_steps), else "No log" */
    if (isnan(e->logged_loss)) printf("%5d  %13s", e->epoch, "No log");
    else printf("%5d  %13.6f", e->epoch, e->logged_loss);
    if (e->evaluated) {
        const lb_metrics *m = &e->eval.metrics;
        printf("  %15.6f  %8.6f  %9.6f  %6.6f  %8.6f", e->eval.loss, m->accuracy, m->precision, m->recall, m->f1);
    }
    printf("%s\n", e->is_best ? "  *" : "");
    fflush(stdout);
}

static int die(const char *what, const lb_error *err) {
    fprintf(stderr, "train: %s: %s\n", what, err->msg);
    return (int)err->code;
}

int main(int argc, char **argv) {
    if (argc < 5 || argc > 7) {
        fprintf(stderr, "usage: %s MODEL TRAIN VALIDATION OUTPUT [EPOCHS [MAX_LENGTH]]\n", argv[0]);
        return 2;
    }
    lb_runtime_reexec(argv);
    lb_error err;
    lb_model *m = NULL;
    lb_dataset *train = NULL, *val = NULL;
    lb_train_run *run = NULL;
    int rc = 0;

    lb_lora_options lora = {.r = 4, .alpha = 32, .dropout = 0.01}; /* target: the query projection */
    if (lb_model_open(argv[1], NULL, &m, &err) || lb_model_add_adapter(m, &lora, &err)) {
        rc = die(argv[1], &err);
        goto out;
    }
    if (lb_dataset_open(argv[2], NULL, &train, &err) || lb_dataset_open(argv[3], NULL, &val, &err)) {
        rc = die("data", &err);
        goto out;
    }
    lb_train_options o;
    lb_train_options_init(&o); /* output_dir NULL: the run writes nothing, we save below */
    if (argc > 5) o.num_train_epochs = atoi(argv[5]);
    if (argc > 6) o.max_length = atoi(argv[6]);
    lb_train_callbacks cb = {.on_epoch = on_epoch};
    lb_train_result res;
    if (lb_train_run_open(m, train, val, &o, &cb, &run, &err)) {
        rc = die("train", &err);
        goto out;
    }
    printf("Epoch  Training Loss  Validation Loss  Accuracy  Precision  Recall  F1\n");
    if (lb_train_run_all(run, &res, &err)) {
        rc = die("train", &err);
        goto out;
    }
    printf("best epoch: %d  steps: %lld  train_loss: %.6f  %.0f tokens/s\n", res.best_epoch, (long long)res.global_step,
           res.train_loss, res.tokens_per_s);
    lb_train_run_close(run); /* the model keeps the best epoch's adapter */
    run = NULL;
    if (lb_model_save_adapter(m, argv[4], &err)) rc = die(argv[4], &err);
    else printf("adapter saved to %s\n", argv[4]);
out:
    lb_train_run_close(run);
    lb_dataset_close(val);
    lb_dataset_close(train);
    lb_model_close(m);
    return rc;
}
