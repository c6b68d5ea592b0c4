/* Placeholder until the owning module lands; replaced by the real command. */
#include <stdio.h>
#include "cli/cli.h"
int cmd_eval(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "lorabert eval: not available in this build\n");
    return LB_ERR_UNSUPPORTED;
}
