/* `lorabert download`: fetch a model or dataset repo from the Hugging Face Hub into the shared
 * HF cache and print the snapshot directory. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

static void download_help(FILE *out) {
    fprintf(out,
            "usage: lorabert download REPO_ID [--dataset] [--revision R] [--include GLOB]...\n\n"
            "Downloads the files of a Hugging Face Hub repo into the HF cache (the same cache\n"
            "Python's huggingface_hub uses) and prints the local snapshot directory.\n\n"
            "  REPO_ID          \"org/name\" or \"name\", e.g. distilbert-base-uncased\n"
            "  --dataset        the repo is a dataset (default: a model)\n"
            "  --revision R     branch, tag or commit hash (default: main)\n"
            "  --include GLOB   only files matching GLOB (repeatable; '*' also matches '/')\n\n"
            "Environment: HF_ENDPOINT (default https://huggingface.co), HF_TOKEN (private or gated\n"
            "repos), HF_HOME / HF_HUB_CACHE (cache location, default ~/.cache/huggingface/hub),\n"
            "HF_HUB_OFFLINE=1 (use only the cache), HF_HUB_DISABLE_PROGRESS_BARS=1.\n"
            "Interrupted downloads resume where they stopped on the next run.\n");
}

int cmd_download(int argc, char **argv) {
    const char *repo = NULL, *revision = NULL;
    bool dataset = false;
    const char **include = calloc((size_t)argc + 1, sizeof *include);
    if (!include) { fprintf(stderr, "lorabert: out of memory\n"); return LB_ERR_NOMEM; }
    size_t n_include = 0;
    int rc = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--help") || !strcmp(a, "-h")) { download_help(stdout); goto out; }
        else if (!strcmp(a, "--dataset")) dataset = true;
        else if (!strcmp(a, "--revision") || !strcmp(a, "--include")) {
            if (i + 1 >= argc) { rc = cli_usage_error("download", "%s needs a value", a); goto out; }
            if (a[2] == 'r') revision = argv[++i];
            else include[n_include++] = argv[++i];
        } else if (!strncmp(a, "--revision=", 11)) revision = a + 11;
        else if (!strncmp(a, "--include=", 10)) include[n_include++] = a + 10;
        else if (a[0] == '-' && a[1]) { rc = cli_usage_error("download", "unknown option '%s'", a); goto out; }
        else if (repo) { rc = cli_usage_error("download", "one REPO_ID expected, got '%s' and '%s'", repo, a); goto out; }
        else repo = a;
    }
    if (!repo) { rc = cli_usage_error("download", "missing REPO_ID"); goto out; }
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
    lb_status st = lb_hub_download(repo, dataset, revision, n_include ? include : NULL, &dir, &err);
    if (st) { rc = cli_fail(&err); goto out; }
    printf("%s\n", dir);
    lb_free(dir);
out:
    free(include);
    return rc;
}
