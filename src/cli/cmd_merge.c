/* Placeholder until the owning module lands; replaced by the real command. */
#include <stdio.h>
#include "cli/cli.h"
int cmd_merge(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "lorabert merge: not available in this build\n");
    return LB_ERR_UNSUPPORTED;
}
