/* libFuzzer harness for PEFT adapter folders (src/model/peft.c). An input is
 *   adapter_config.json bytes [ SEP adapter_model.safetensors bytes ]
 * with SEP = "\n#safetensors#\n"; without SEP the folder holds only the config (and, when the
 * input's last byte is odd, an adapter_model.bin). Both files go to a tmpfs folder, then
 * lb_peft_read_config and lb_peft_load run against the tiny DistilBERT of
 * tests/golden/distilbert_tiny/model (loaded once; reloaded only after an input got as far as
 * adding LoRA to it). Every rejection must carry a message; an accepted adapter must run a
 * forward pass. Run from fuzz/ (make -C fuzz run) or set LORABERT_TINY_MODEL. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "base/fileio.h"
#include "model/peft.h"

static const char SEP[] = "\n#safetensors#\n";
static char dir[128], cfg_path[192], st_path[192], bin_path[192];
static const char *model_dir;
static lb_model *model;

static void load_model(void) {
    lb_error e;
    lb_load_opts o = {.quiet = true};
    model = lb_model_load(model_dir, &o, &e);
    if (!model) {
        fprintf(stderr, "fuzz_peft_adapter: %s\n", e.msg);
        abort();
    }
}

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc;
    (void)argv;
    const char *cand[] = {getenv("LORABERT_TINY_MODEL"), "../tests/golden/distilbert_tiny/model",
                          "tests/golden/distilbert_tiny/model"};
    for (int i = 0; i < 3 && !model_dir; i++) {
        if (!cand[i]) continue;
        char p[512];
        snprintf(p, sizeof p, "%s/model.safetensors", cand[i]);
        if (lb_file_exists(p)) model_dir = cand[i];
    }
    if (!model_dir) {
        fprintf(stderr, "fuzz_peft_adapter: tiny model not found; set LORABERT_TINY_MODEL\n");
        abort();
    }
    snprintf(dir, sizeof dir, "%s/lbfuzz_peft.XXXXXX", access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp");
    if (!mkdtemp(dir)) abort();
    snprintf(cfg_path, sizeof cfg_path, "%s/adapter_config.json", dir);
    snprintf(st_path, sizeof st_path, "%s/adapter_model.safetensors", dir);
    snprintf(bin_path, sizeof bin_path, "%s/adapter_model.bin", dir);
    load_model();
    return 0;
}

/* Plain writes: the harness's own scratch files need no crash safety, and fsync per input
 * would dominate the run time. */
static void put(const char *path, const uint8_t *d, size_t n) {
    FILE *f = fopen(path, "wb");
    if (!f || (n && fwrite(d, 1, n, f) != n) || fclose(f)) abort();
}

static void reject_ok(lb_status st, const lb_error *e) {
    if (e->code != st || !e->msg[0]) abort(); /* a rejection must say why */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    const uint8_t *sep = NULL;
    size_t sl = sizeof SEP - 1;
    for (size_t i = 0; i + sl <= size && !sep; i++)
        if (data[i] == SEP[0] && memcmp(data + i, SEP, sl) == 0) sep = data + i;
    size_t nc = sep ? (size_t)(sep - data) : size;
    put(cfg_path, data, nc);
    unlink(st_path);
    unlink(bin_path);
    if (sep) put(st_path, sep + sl, size - nc - sl);
    else if (size && (data[size - 1] & 1)) put(bin_path, data, 0);

    lb_error e;
    memset(&e, 0, sizeof e);
    lb_lora_config c;
    lb_status st = lb_peft_read_config(dir, &c, NULL, &e);
    if (st) reject_ok(st, &e);
    else if (c.r < 1 || !c.target_mask || (c.target_mask >> LB_LIN__COUNT) || !(c.dropout >= 0 && c.dropout < 1))
        abort();

    memset(&e, 0, sizeof e);
    st = lb_peft_load(model, dir, &e);
    if (st) {
        reject_ok(st, &e);
    } else {
        /* Loaded: the model must run (any weights, NaN included, are data, not a crash). */
        const lb_model_config *mc = lb_model_get_config(model);
        int32_t ids[8] = {2, 5, 7, 3, 2, 9, 0, 0}, len[2] = {4, 2};
        for (int i = 0; i < 8; i++) ids[i] %= mc->vocab_size;
        lb_batch b = {.B = 2, .T = 4, .ids = ids, .lengths = len};
        float logits[2 * 16];
        if (mc->num_labels > 16) abort();
        if (lb_model_forward(model, &b, false, NULL, logits, &e)) abort();
    }
    if (lb_model_get_lora(model)) { /* an adapter went in (fully or partly): start clean */
        lb_model_free(model);
        load_model();
    }
    return 0;
}
