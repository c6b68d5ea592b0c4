/* `lorabert download`: fetch a model or dataset repo from the Hugging Face Hub into the shared
 * HF cache and print the snapshot directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/options.h"

static const char download_usage[] =
    "usage: lorabert download REPO_ID [--dataset] [--revision R] [--include GLOB]...\n\n"
    "Downloads the files of a Hugging Face Hub repo into the HF cache (the same cache\n"
    "Python's huggingface_hub uses) and prints the local snapshot directory.\n"
    "REPO_ID is \"org/name\" or \"name\", e.g. distilbert-base-uncased.\n";

static const char download_epilog[] =
    "Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated\n"
    "repos), HF_HOME / HF_HUB_CACHE (cache location, default ~/.cache/huggingface/hub),\n"
    "HF_HUB_OFFLINE=1 (use only the cache), HF_HUB_DISABLE_PROGRESS_BARS=1.\n"
    "Interrupted downloads resume where they stopped on the next run.\n"
    "Exit status: 0 ok, 2 usage, 3 I/O, 4 bad repo files, 7 network.\n";

int cmd_download(int argc, char **argv) {
    const char *repo = NULL, *revision = NULL;
    bool dataset = false;
    cli_strlist include = {0};
    char **args = NULL;
    int nargs = 0;
    const cli_opt opts[] = {
        {"--dataset", OPT_FLAG, &dataset, NULL, "the repo is a dataset (default: a model)", 0, 0},
        {"--revision", OPT_STR, &revision, "R", "branch, tag or commit hash (default: main)", 0, 0},
        {"--include", OPT_MULTI, &include, "GLOB", "only files matching GLOB (repeatable; '*' also matches '/')", 0, 0},
    };
    const cli_command cmd = {.name = "download",
                             .usage = download_usage,
                             .opts = opts,
                             .nopts = (int)(sizeof opts / sizeof opts[0]),
                             .positional = "REPO_ID",
                             .max_positional = 1,
                             .epilog = download_epilog};
    bool help = false;
    int rc = cli_parse_command(&cmd, argc, argv, &args, &nargs, &help);
    if (rc || help) goto out;
    repo = nargs ? args[0] : NULL;
    if (!repo) {
        rc = cli_usage_error("download", "missing REPO_ID");
        goto out;
    }
    /* Always a hub id here, even if a local folder of that name exists. */
    {
        const char *slash = strchr(repo, '/');
        if (repo[0] == '.' || repo[0] == '/' || (slash && strchr(slash + 1, '/'))) {
            rc = cli_usage_error("download", "'%s' is not a hub repo id ('org/name' or 'name')", repo);
            goto out;
        }
    }
    char *dir = NULL;
    lb_error err = {0};
    lb_status st = lb_hub_download(repo, dataset, revision, include.n ? include.v : NULL, &dir, &err);
    if (st) {
        rc = cli_fail(&err);
        goto out;
    }
    printf("%s\n", dir);
    lb_free(dir);
out:
    free(include.v);
    free(args);
    return rc;
}
