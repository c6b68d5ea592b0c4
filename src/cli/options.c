/* The option parser of every command; see options.h. */
#include "cli/options.h"
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "cli/cli.h"

static const char default_epilog[] =
    "Exit status: 0 ok, 1 internal error, 2 usage, 3 I/O, 4 bad file format or data (labels\n"
    "outside the model's range, empty dataset, missing column), 5 unsupported, 6 out of memory,\n"
    "7 network, 8 non-finite loss, 9 interrupted (a resumable checkpoint was written).\n";

static void print_default(FILE *f, const cli_opt *o) {
    switch (o->kind) {
    case OPT_STR: {
        const char *v = *(const char **)o->dest;
        if (v) fprintf(f, " (default: %s)", v);
        break;
    }
    case OPT_INT: fprintf(f, " (default: %ld)", *(long *)o->dest); break;
    case OPT_F64: fprintf(f, " (default: %g)", *(double *)o->dest); break;
    case OPT_FLAG:
    case OPT_MULTI: break;
    }
}

static void print_help(const cli_command *c) {
    printf("%s\noptions:\n", c->usage);
    for (int k = 0; k < c->nopts; k++) {
        const cli_opt *o = &c->opts[k];
        char left[64];
        snprintf(left, sizeof left, "%s%s%s", o->name, o->metavar ? " " : "", o->metavar ? o->metavar : "");
        printf("  %-26s %s", left, o->help);
        print_default(stdout, o);
        putchar('\n');
    }
    printf("  %-26s %s\n", "-h, --help", "show this help");
    printf("\n%s", c->epilog ? c->epilog : default_epilog);
}

static int set_value(const cli_command *c, const cli_opt *o, const char *v, int argc) {
    const char *cmd = c->name;
    if (o->kind == OPT_STR) {
        *(const char **)o->dest = v;
        return 0;
    }
    if (o->kind == OPT_MULTI) {
        cli_strlist *l = o->dest;
        if (!l->v && !(l->v = calloc((size_t)argc + 1, sizeof *l->v))) {
            fprintf(stderr, "lorabert: out of memory\n");
            return LB_ERR_NOMEM;
        }
        l->v[l->n++] = v;
        return 0;
    }
    char *end;
    errno = 0;
    double d = strtod(v, &end);
    if (!*v || *end || errno || !isfinite(d) || d < o->min || d > o->max || (o->kind == OPT_INT && d != floor(d)))
        return o->kind == OPT_INT && o->min == 1
                   ? cli_usage_error(cmd, "%s needs a positive integer (at most %g), got '%s'", o->name, o->max, v)
                   : cli_usage_error(cmd, "%s needs %s in [%g, %g], got '%s'", o->name,
                                     o->kind == OPT_INT ? "an integer" : "a number", o->min, o->max, v);
    if (o->kind == OPT_INT) *(long *)o->dest = (long)d;
    else *(double *)o->dest = d;
    return 0;
}

int cli_parse_command(const cli_command *c, int argc, char **argv, char ***pos, int *npos, bool *help_shown) {
    *help_shown = false;
    if (pos) *pos = NULL;
    if (npos) *npos = 0;
    char **p = NULL;
    int np = 0, rc = 0;
    bool only_positional = false;
    for (int i = 1; i < argc && !rc; i++) {
        char *a = argv[i];
        if (only_positional || a[0] != '-' || !a[1]) {
            if (!c->positional || !pos) {
                rc = cli_usage_error(c->name, "unexpected argument '%s'", a);
                break;
            }
            if (c->max_positional && np >= c->max_positional) {
                rc = cli_usage_error(c->name, "at most %d %s expected, got '%s' too", c->max_positional, c->positional,
                                     a);
                break;
            }
            if (!p && !(p = calloc((size_t)argc, sizeof *p))) {
                fprintf(stderr, "lorabert: out of memory\n");
                rc = LB_ERR_NOMEM;
                break;
            }
            p[np++] = a;
            continue;
        }
        if (!strcmp(a, "--")) {
            only_positional = true;
            continue;
        }
        if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            print_help(c);
            *help_shown = true;
            break;
        }
        const char *eq = strchr(a, '=');
        size_t nlen = eq ? (size_t)(eq - a) : strlen(a);
        const cli_opt *o = NULL;
        for (int k = 0; k < c->nopts && !o; k++)
            if (strlen(c->opts[k].name) == nlen && !strncmp(c->opts[k].name, a, nlen)) o = &c->opts[k];
        if (!o) {
            rc = cli_usage_error(c->name, "unknown option '%s'", a);
            break;
        }
        if (o->kind == OPT_FLAG) {
            if (eq) rc = cli_usage_error(c->name, "%s takes no value", o->name);
            else *(bool *)o->dest = true;
            continue;
        }
        const char *v = eq ? eq + 1 : (i + 1 < argc ? argv[++i] : NULL);
        if (!v) rc = cli_usage_error(c->name, "%s needs a value (%s)", o->name, o->metavar ? o->metavar : "VALUE");
        else rc = set_value(c, o, v, argc);
    }
    if (rc || *help_shown || !pos) {
        free(p);
        return rc;
    }
    *pos = p;
    *npos = np;
    return 0;
}

int cli_parse(const char *cmd, const char *usage, const cli_opt *opts, int nopts, int argc, char **argv,
              bool *help_shown) {
    cli_command c = {.name = cmd, .usage = usage, .opts = opts, .nopts = nopts};
    return cli_parse_command(&c, argc, argv, NULL, NULL, help_shown);
}

char **cli_split_list(const char *s, int *n) {
    *n = 0;
    if (!s || !*s) return NULL;
    int items = 1;
    for (const char *p = s; *p; p++) items += *p == ',';
    char **list = calloc((size_t)items + 1, sizeof *list);
    if (!list) return NULL;
    for (const char *start = s;; start++) {
        const char *end = strchr(start, ',');
        size_t len = end ? (size_t)(end - start) : strlen(start);
        if (!(list[*n] = strndup(start, len))) {
            cli_free_list(list);
            *n = 0;
            return NULL;
        }
        (*n)++;
        if (!end) break;
        start = end;
    }
    return list;
}

void cli_free_list(char **list) {
    if (!list) return;
    for (char **p = list; *p; p++) free(*p);
    free(list);
}

int cli_check_choices(const char *cmd, const cli_choice *choices, int n) {
    for (int i = 0; i < n; i++) {
        if (!choices[i].value) continue;
        bool ok = !choices[i].names && *choices[i].value;
        for (const char *const *name = choices[i].names; name && *name && !ok; name++)
            ok = !strcmp(choices[i].value, *name);
        if (!ok) return cli_usage_error(cmd, "%s", choices[i].msg);
    }
    return 0;
}
