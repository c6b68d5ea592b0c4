/* NULL-terminated lists of malloc'd strings (file lists, label names, comma lists). */
#ifndef LB_BASE_STRLIST_H
#define LB_BASE_STRLIST_H

/* Splits "a,b,c" into a malloc'd NULL-terminated list; *n gets the count. NULL (and *n = 0) for
 * NULL or "", or when out of memory. Empty items are kept ("a,,b" has 3). */
char **lb_split_list(const char *s, int *n);
/* A NULL-terminated copy of names[0..n) (NULL entries become ""); NULL when out of memory. */
char **lb_copy_list(const char *const *names, int n);
/* Frees a NULL-terminated list and its strings (NULL is fine). */
void lb_free_list(char **list);

#endif
