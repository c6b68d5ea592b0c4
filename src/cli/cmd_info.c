/* `lorabert info`: describes a model folder (architecture, sizes, parameter count, tensor
 * dtypes, labels, tokenizer, max length) or a PEFT adapter folder (LoRA settings, base model,
 * tensors), from lb_describe (headers only: nothing is loaded). --json prints its object. */
#include <cjson/cJSON.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/options.h"

static const char info_usage[] =
    "usage: lorabert info DIR|REPO_ID [--json]\n\n"
    "Describes a model folder (config.json + model.safetensors, tokenizer files) or a PEFT\n"
    "adapter folder (adapter_config.json + adapter_model.safetensors): architecture,\n"
    "layers and dimensions, parameter count, tensor dtypes, labels, tokenizer, max length.\n"
    "A hub repo id is resolved through the HF cache (downloading its config, weights and\n"
    "tokenizer files when missing). Only headers are read: nothing is loaded.\n";

static void thousands(int64_t v, char *buf, size_t n) {
    char raw[32];
    snprintf(raw, sizeof raw, "%lld", (long long)v);
    size_t len = strlen(raw), o = 0;
    for (size_t i = 0; i < len && o + 2 < n; i++) {
        if (i && (len - i) % 3 == 0) buf[o++] = ',';
        buf[o++] = raw[i];
    }
    buf[o] = '\0';
}

static const char *str_of(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "";
}

static double num_of(const cJSON *o, const char *k) {
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : 0;
}

static void print_adapter(const cJSON *o) {
    char params[32];
    thousands((int64_t)num_of(o, "parameters"), params, sizeof params);
    const char *peft_type = str_of(o, "peft_type"), *targets = str_of(o, "target_modules"),
               *task = str_of(o, "task_type"), *base = str_of(o, "base_model");
    printf("path:          %s\n", str_of(o, "path"));
    printf("kind:          PEFT adapter (%s)\n", *peft_type ? peft_type : "unknown type");
    printf("lora:          r=%d, alpha=%g, dropout=%g\n", (int)num_of(o, "r"), num_of(o, "lora_alpha"),
           num_of(o, "lora_dropout"));
    printf("targets:       %s\n", *targets ? targets : "(none)");
    printf("task:          %s\n", *task ? task : "(none)");
    printf("base model:    %s\n", *base ? base : "(not recorded)");
    if (cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "has_weights")))
        printf("tensors:       %d, %s parameters, %s\n", (int)num_of(o, "tensors"), params, str_of(o, "dtypes"));
    else printf("tensors:       adapter_model.safetensors missing\n");
    printf("tokenizer:     %s\n", cJSON_IsTrue(cJSON_GetObjectItemCaseSensitive(o, "has_tokenizer"))
                                      ? "included"
                                      : "none (the base model's is used)");
}

static void print_model(const cJSON *o) {
    char params[32];
    thousands((int64_t)num_of(o, "parameters"), params, sizeof params);
    const char *model_type = str_of(o, "model_type");
    printf("path:          %s\n", str_of(o, "path"));
    printf("architecture:  %s (model_type %s)\n", str_of(o, "architecture"), *model_type ? model_type : "unknown");
    printf("layers:        %d x (dim %d, %d heads, ffn %d)\n", (int)num_of(o, "layers"), (int)num_of(o, "dim"),
           (int)num_of(o, "heads"), (int)num_of(o, "ffn_dim"));
    printf("vocab:         %d, max positions %d\n", (int)num_of(o, "vocab_size"),
           (int)num_of(o, "max_position_embeddings"));
    printf("parameters:    %s in %d tensors\n", params, (int)num_of(o, "tensors"));
    printf("dtypes:        %s\n", str_of(o, "dtypes"));
    printf("labels:        %d: ", (int)num_of(o, "num_labels"));
    const cJSON *l;
    int i = 0;
    cJSON_ArrayForEach(l, cJSON_GetObjectItemCaseSensitive(o, "labels")) {
        printf("%s%d=%s", i ? ", " : "", i, cJSON_IsString(l) ? l->valuestring : "");
        i++;
    }
    printf("\nproblem type:  %s\n", str_of(o, "problem_type"));
    printf("tokenizer:     %s\n", str_of(o, "tokenizer"));
    printf("max length:    %d tokens\n", (int)num_of(o, "max_length"));
}

int cmd_info(int argc, char **argv) {
    bool json = false;
    char **args = NULL;
    int nargs = 0;
    const cli_opt opts[] = {
        {"--json", OPT_FLAG, &json, NULL, "one JSON object instead of the text listing", 0, 0},
    };
    const cli_command cmd = {.name = "info",
                             .usage = info_usage,
                             .opts = opts,
                             .nopts = 1,
                             .positional = "DIR",
                             .max_positional = 1,
                             .epilog = "Exit status: 0 ok, 2 usage, 3 I/O, 4 bad files, 7 network.\n"};
    bool help = false;
    int rc = cli_parse_command(&cmd, argc, argv, &args, &nargs, &help);
    if (rc || help) return rc;
    const char *target = nargs ? args[0] : NULL;
    free(args);
    if (!target) return cli_usage_error("info", "missing DIR");
    lb_error err = {0};
    char *desc = NULL;
    if (lb_describe(target, &desc, &err)) return cli_fail(&err);
    if (json) {
        puts(desc);
        lb_free(desc);
        return 0;
    }
    cJSON *o = cJSON_Parse(desc);
    lb_free(desc);
    if (!o) return cli_fail(&(lb_error){LB_ERR_NOMEM, "out of memory"});
    if (!strcmp(str_of(o, "kind"), "adapter")) print_adapter(o);
    else print_model(o);
    cJSON_Delete(o);
    return 0;
}
