/* Labels the seed's five sentences with a classifier and a LoRA adapter, through the installed
 * library only:  classify MODEL [ADAPTER]   (MODEL: a folder or hub id; an adapter folder alone
 * also works, it names its base). Prints "label<TAB>p0 p1 ...<TAB>text" per sentence (%.9g). */
#include <lorabert.h>
#include <stdio.h>
#include <stdlib.h>

static const char *const texts[] = {"It was good.", "Not a fan, don't recommed.", "Better than the first one.",
                                    "This is not worth watching even once.", "This one is a pass."};
enum { N = sizeof texts / sizeof texts[0] };

int main(int argc, char **argv) {
    if (argc < 2 || argc > 3) {
        fprintf(stderr, "usage: %s MODEL [ADAPTER]\n", argv[0]);
        return 2;
    }
    lb_runtime_reexec(argv); /* as the CLI: OpenBLAS's fast kernels, a bounded OpenMP spin */
    lb_classifier_options opts = {0};
    opts.model.adapter = argc == 3 ? argv[2] : NULL;
    lb_error err;
    lb_classifier *c;
    if (lb_classifier_open(argv[1], &opts, &c, &err) != LB_OK) {
        fprintf(stderr, "classify: %s\n", err.msg);
        return (int)err.code;
    }
    int L = lb_classifier_num_labels(c);
    int32_t ids[N];
    double *probs = malloc(sizeof(double) * N * (size_t)L);
    lb_status st = probs ? lb_classify(c, texts, NULL, NULL, NULL, N, ids, probs, NULL, &err) : LB_ERR_NOMEM;
    if (st == LB_OK) {
        for (int i = 0; i < N; i++) {
            printf("%s\t", lb_classifier_label(c, ids[i]));
            for (int j = 0; j < L; j++) printf("%s%.9g", j ? " " : "", probs[i * L + j]);
            printf("\t%s\n", texts[i]);
        }
    } else {
        fprintf(stderr, "classify: %s\n", probs ? err.msg : "out of memory");
    }
    free(probs);
    lb_classifier_close(c);
    return (int)st;
}
