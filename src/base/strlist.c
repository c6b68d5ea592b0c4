/* NULL-terminated string lists; see strlist.h. */
#include "base/strlist.h"
#include <stdlib.h>
#include <string.h>

char **lb_split_list(const char *s, int *n) {
    *n = 0;
    if (!s || !*s) return NULL;
    int cap = 1;
    for (const char *p = s; *p; p++) cap += *p == ',';
    char **list = calloc((size_t)cap + 1, sizeof *list);
    if (!list) return NULL;
    const char *start = s;
    for (const char *p = s;; p++) {
        if (*p == ',' || !*p) {
            if (!(list[*n] = strndup(start, (size_t)(p - start)))) {
                lb_free_list(list);
                *n = 0;
                return NULL;
            }
            (*n)++;
            if (!*p) break;
            start = p + 1;
        }
    }
    return list;
}

char **lb_copy_list(const char *const *names, int n) {
    char **v = calloc((size_t)(n > 0 ? n : 0) + 1, sizeof *v);
    if (!v) return NULL;
    for (int i = 0; i < n; i++)
        if (!(v[i] = strdup(names[i] ? names[i] : ""))) {
            lb_free_list(v);
            return NULL;
        }
    return v;
}

void lb_free_list(char **list) {
    if (!list) return;
    for (char **p = list; *p; p++) free(*p);
    free(list);
}
