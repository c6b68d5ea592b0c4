/* `lorabert tokenize`: prints token ids exactly as the Hugging Face fast tokenizer, one JSON
 * line per input line. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "text/tokenizer.h"

static void help(FILE *out) {
    fprintf(out,
            "usage: lorabert tokenize --model DIR [options] < texts\n\n"
            "Tokenizes one text per input line (or one JSON object with a \"text\" field per line with\n"
            "--jsonl) exactly as the Hugging Face fast tokenizer, printing one JSON line per text:\n"
            "  {\"input_ids\":[101,...,102],\"tokens\":[\"[CLS]\",...,\"[SEP]\"]}\n\n"
            "options:\n"
            "  --model DIR          folder with tokenizer.json, or vocab.txt (+ tokenizer_config.json)\n"
            "  --max-length N       truncate to N tokens including [CLS]/[SEP] (default: no truncation)\n"
            "  --truncation SIDE    left (keep the end of the text) or right (default)\n"
            "  --no-special-tokens  do not add [CLS]/[SEP]\n"
            "  --jsonl              input lines are JSON objects with a \"text\" string\n"
            "  --replace-invalid    replace invalid UTF-8 with U+FFFD (default: error naming the byte)\n"
            "  -h, --help           show this help\n\n"
            "Exit status: 0 ok, 2 usage, 3 I/O, 4 bad input (invalid UTF-8 or JSON, bad tokenizer files).\n");
}

/* Writes s as a JSON string (UTF-8 passes through; quotes, backslashes, controls escaped). */
static void put_json_string(FILE *out, const char *s) {
    putc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') { putc('\\', out); putc(*p, out); }
        else if (*p < 0x20) fprintf(out, "\\u%04x", *p);
        else putc(*p, out);
    }
    putc('"', out);
}

static const char *arg_value(int argc, char **argv, int *i, const char *name) {
    size_t n = strlen(name);
    if (!strncmp(argv[*i], name, n) && argv[*i][n] == '=') return argv[*i] + n + 1;
    if (*i + 1 >= argc) return NULL;
    return argv[++*i];
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL;
    lb_tok_opts opts = {.max_length = 0, .truncate_left = false, .add_special_tokens = true,
                        .replace_invalid_utf8 = false};
    bool jsonl = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) { help(stdout); return 0; }
        if (!strcmp(a, "--no-special-tokens")) opts.add_special_tokens = false;
        else if (!strcmp(a, "--jsonl")) jsonl = true;
        else if (!strcmp(a, "--replace-invalid")) opts.replace_invalid_utf8 = true;
        else if (!strncmp(a, "--model", 7) && (a[7] == 0 || a[7] == '=')) {
            if (!(model = arg_value(argc, argv, &i, "--model"))) return cli_usage_error("tokenize", "--model needs a folder");
        } else if (!strncmp(a, "--max-length", 12) && (a[12] == 0 || a[12] == '=')) {
            const char *v = arg_value(argc, argv, &i, "--max-length");
            char *end;
            errno = 0;
            long n = v ? strtol(v, &end, 10) : 0;
            if (!v || !*v || *end || errno || n < 1 || n > 1000000000)
                return cli_usage_error("tokenize", "--max-length needs a positive integer, got '%s'", v ? v : "");
            opts.max_length = (int)n;
        } else if (!strncmp(a, "--truncation", 12) && (a[12] == 0 || a[12] == '=')) {
            const char *v = arg_value(argc, argv, &i, "--truncation");
            if (v && !strcmp(v, "left")) opts.truncate_left = true;
            else if (v && !strcmp(v, "right")) opts.truncate_left = false;
            else return cli_usage_error("tokenize", "--truncation must be left or right, got '%s'", v ? v : "");
        } else {
            return cli_usage_error("tokenize", "unknown option '%s'", a);
        }
    }
    if (!model) return cli_usage_error("tokenize", "--model DIR is required");
    lb_error err = {0};
    lb_tokenizer *tok = lb_tokenizer_load(model, &err);
    if (!tok) return cli_fail(&err);

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    lb_encoding enc = {0};
    char *line = NULL;
    size_t cap = 0, lineno = 0;
    ssize_t got;
    int rc = 0;
    while ((got = getline(&line, &cap, stdin)) >= 0) {
        lineno++;
        size_t len = (size_t)got;
        if (len && line[len - 1] == '\n') line[--len] = 0;
        const char *text = line;
        cJSON *j = NULL;
        if (jsonl) {
            const char *end = NULL;
            j = cJSON_ParseWithLengthOpts(line, len, &end, false);
            const cJSON *t = j ? cJSON_GetObjectItemCaseSensitive(j, "text") : NULL;
            if (!cJSON_IsString(t)) {
                lb_err(&err, LB_ERR_FORMAT, "stdin line %zu: %s", lineno,
                       j ? "expected a JSON object with a \"text\" string" : "invalid JSON");
                cJSON_Delete(j);
                rc = cli_fail(&err);
                break;
            }
            text = t->valuestring;
            len = strlen(text);
        }
        lb_status st = lb_tokenize(tok, text, len, &opts, &enc, &err);
        cJSON_Delete(j);
        if (st) {
            lb_err_prefix(&err, "stdin line %zu", lineno);
            rc = cli_fail(&err);
            break;
        }
        fputs("{\"input_ids\":[", stdout);
        for (int32_t k = 0; k < enc.n; k++) printf(k ? ",%d" : "%d", enc.ids[k]);
        fputs("],\"tokens\":[", stdout);
        for (int32_t k = 0; k < enc.n; k++) {
            if (k) putchar(',');
            const char *s = lb_tokenizer_id_to_token(tok, enc.ids[k]);
            put_json_string(stdout, s ? s : "");
        }
        fputs("]}\n", stdout);
    }
    if (!rc && ferror(stdin)) rc = cli_fail(&(lb_error){LB_ERR_IO, "reading stdin failed"});
    free(line);
    lb_encoding_free(&enc);
    lb_tokenizer_free(tok);
    if (fflush(stdout) != 0 && !rc) rc = cli_fail(&(lb_error){LB_ERR_IO, "writing stdout failed"});
    return rc;
}
