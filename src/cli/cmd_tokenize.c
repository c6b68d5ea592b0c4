/* `lorabert tokenize`: prints token ids exactly as the Hugging Face fast tokenizer, one JSON
 * line per input line. */
#include <cjson/cJSON.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"
#include "cli/options.h"

static const char tokenize_usage[] =
    "usage: lorabert tokenize --model DIR|ID [options] < texts\n\n"
    "Tokenizes one text per input line (or one JSON object with a \"text\" field per line with\n"
    "--jsonl) exactly as the Hugging Face fast tokenizer, printing one JSON line per text:\n"
    "  {\"input_ids\":[101,...,102],\"tokens\":[\"[CLS]\",...,\"[SEP]\"]}\n";

/* Decodes the JSON string starting at *pp (just past its opening quote) into out (which has
 * room for the raw length), advancing *pp past the closing quote. The line was validated by
 * cJSON already; this exists because cJSON's C strings stop at an escaped \u0000. */
static size_t decode_json_string(const char **pp, char *out) {
    const char *p = *pp;
    size_t n = 0;
    while (*p && *p != '"') {
        if (*p != '\\') {
            if (out) out[n] = *p;
            n++;
            p++;
            continue;
        }
        p++;
        char c = *p ? *p++ : 0;
        unsigned cp = 0;
        switch (c) {
        case 'b': cp = '\b'; break;
        case 'f': cp = '\f'; break;
        case 'n': cp = '\n'; break;
        case 'r': cp = '\r'; break;
        case 't': cp = '\t'; break;
        case 'u': {
            char h[5] = {0};
            for (int i = 0; i < 4 && *p; i++) h[i] = *p++;
            cp = (unsigned)strtoul(h, NULL, 16);
            if (cp >= 0xD800 && cp < 0xDC00 && p[0] == '\\' && p[1] == 'u') {
                char l[5] = {0};
                for (int i = 0; i < 4 && p[2 + i]; i++) l[i] = p[2 + i];
                unsigned lo = (unsigned)strtoul(l, NULL, 16);
                if (lo >= 0xDC00 && lo < 0xE000) {
                    cp = 0x10000 + ((cp - 0xD800) << 10) + (lo - 0xDC00);
                    p += 6;
                }
            }
            if (cp >= 0xD800 && cp < 0xE000) cp = 0xFFFD; /* a lone surrogate */
            break;
        }
        default: cp = (unsigned char)c;
        }
        unsigned char b[4];
        int k;
        if (cp < 0x80) {
            b[0] = (unsigned char)cp;
            k = 1;
        } else if (cp < 0x800) {
            b[0] = (unsigned char)(0xC0 | (cp >> 6));
            b[1] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 2;
        } else if (cp < 0x10000) {
            b[0] = (unsigned char)(0xE0 | (cp >> 12));
            b[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[2] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 3;
        } else {
            b[0] = (unsigned char)(0xF0 | (cp >> 18));
            b[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3F));
            b[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3F));
            b[3] = (unsigned char)(0x80 | (cp & 0x3F));
            k = 4;
        }
        for (int i = 0; i < k; i++) {
            if (out) out[n] = (char)b[i];
            n++;
        }
    }
    if (*p == '"') p++;
    *pp = p;
    return n;
}

static const char *skip_ws(const char *p) {
    while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n') p++;
    return p;
}

/* Finds the top-level "text" member of a valid JSON object line and decodes it into out
 * (room for strlen(line) bytes). Returns its length, or -1 when it is absent or not a string. */
static long json_text_field(const char *line, char *out) {
    const char *p = skip_ws(line);
    if (*p++ != '{') return -1;
    for (;;) {
        p = skip_ws(p);
        if (*p != '"') return -1;
        p++;
        const char *k = p;
        size_t kl = decode_json_string(&p, NULL);
        bool is_text = kl == 4 && !strncmp(k, "text", 4);
        p = skip_ws(p);
        if (*p++ != ':') return -1;
        p = skip_ws(p);
        if (is_text) {
            if (*p != '"') return -1;
            p++;
            return (long)decode_json_string(&p, out);
        }
        /* Skip the value: nested brackets outside strings, up to the next top-level ',' or '}'. */
        int depth = 0;
        while (*p) {
            if (*p == '"') {
                p++;
                decode_json_string(&p, NULL);
                continue;
            }
            if (*p == '{' || *p == '[') depth++;
            else if (*p == '}' || *p == ']') {
                if (!depth) break;
                depth--;
            } else if (*p == ',' && !depth) break;
            p++;
        }
        if (*p != ',') return -1;
        p++;
    }
}

int cmd_tokenize(int argc, char **argv) {
    const char *model = NULL, *truncation = "right";
    long max_length = 0;
    bool no_specials = false, jsonl = false, replace_invalid = false;
    const cli_opt opts[] = {
        {"--model", OPT_STR, &model, "DIR|ID",
         "folder (or hub repo id) with tokenizer.json, or vocab.txt (+ tokenizer_config.json)", 0, 0},
        {"--max-length", OPT_INT, &max_length, "N",
         "truncate to N tokens including [CLS]/[SEP] (default: no truncation)", 1, 1e9},
        {"--truncation", OPT_STR, &truncation, "SIDE", "left (keep the end of the text) or right", 0, 0},
        {"--no-special-tokens", OPT_FLAG, &no_specials, NULL, "do not add [CLS]/[SEP]", 0, 0},
        {"--jsonl", OPT_FLAG, &jsonl, NULL, "input lines are JSON objects with a \"text\" string", 0, 0},
        {"--replace-invalid", OPT_FLAG, &replace_invalid, NULL,
         "replace invalid UTF-8 with U+FFFD (default: error naming the byte)", 0, 0},
    };
    const cli_command cmd = {
        .name = "tokenize",
        .usage = tokenize_usage,
        .opts = opts,
        .nopts = (int)(sizeof opts / sizeof opts[0]),
        .epilog = "Exit status: 0 ok, 2 usage, 3 I/O, 4 bad input (invalid UTF-8 or JSON, bad tokenizer files).\n"};
    bool help = false;
    int prc = cli_parse_command(&cmd, argc, argv, NULL, NULL, &help);
    if (prc || help) return prc;
    bool left = !strcmp(truncation, "left");
    if (!left && strcmp(truncation, "right"))
        return cli_usage_error("tokenize", "--truncation must be left or right, got '%s'", truncation);
    lb_encode_options opts_enc = {.max_length = (int)max_length,
                                  .truncate_left = left,
                                  .no_special_tokens = no_specials,
                                  .replace_invalid_utf8 = replace_invalid};
    if (!model) return cli_usage_error("tokenize", "--model DIR is required");
    lb_error err = {0};
    lb_tokenizer *tok = NULL;
    if (lb_tokenizer_open(model, &tok, &err)) return cli_fail(&err);

    static char outbuf[1 << 16];
    setvbuf(stdout, outbuf, _IOFBF, sizeof outbuf);
    lb_tokens enc = {0};
    char *line = NULL, *textbuf = NULL;
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
                cli_err(&err, LB_ERR_FORMAT, "stdin line %zu: %s", lineno,
                        j ? "expected a JSON object with a \"text\" string" : "invalid JSON");
                cJSON_Delete(j);
                rc = cli_fail(&err);
                break;
            }
            /* Decode "text" ourselves: it may contain \u0000, which cJSON's strings cut at. */
            char *nb = realloc(textbuf, len + 1);
            if (!nb) {
                cJSON_Delete(j);
                rc = cli_fail(&(lb_error){LB_ERR_NOMEM, "out of memory"});
                break;
            }
            textbuf = nb;
            long tl = json_text_field(line, textbuf);
            if (tl < 0) {
                text = t->valuestring;
                len = strlen(text);
            } else {
                text = textbuf;
                len = (size_t)tl;
            }
        }
        lb_status st = lb_tokenizer_encode(tok, text, len, NULL, 0, &opts_enc, &enc, &err);
        cJSON_Delete(j);
        if (st) {
            fprintf(stderr, "lorabert: stdin line %zu: %s\n", lineno, err.msg);
            rc = (int)st;
            break;
        }
        fputs("{\"input_ids\":[", stdout);
        for (int32_t k = 0; k < enc.n; k++) printf(k ? ",%d" : "%d", enc.ids[k]);
        fputs("],\"tokens\":[", stdout);
        for (int32_t k = 0; k < enc.n; k++) {
            if (k) putchar(',');
            const char *s = lb_tokenizer_id_to_token(tok, enc.ids[k]);
            cli_put_json_string(stdout, s ? s : "");
        }
        fputs("]}\n", stdout);
    }
    if (!rc && ferror(stdin)) rc = cli_fail(&(lb_error){LB_ERR_IO, "reading stdin failed"});
    free(line);
    free(textbuf);
    lb_tokens_free(&enc);
    lb_tokenizer_close(tok);
    if (fflush(stdout) != 0 && !rc) rc = cli_fail(&(lb_error){LB_ERR_IO, "writing stdout failed"});
    return rc;
}
