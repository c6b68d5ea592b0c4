/* Placeholder until the owning module lands; replaced by the real command. */
#include <stdio.h>
#include "cli/cli.h"
int cmd_download(int argc, char **argv) {
    (void)argc; (void)argv;
    fprintf(stderr, "lorabert download: not available in this build\n");
    return LB_ERR_UNSUPPORTED;
}
