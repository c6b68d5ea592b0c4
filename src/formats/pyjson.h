/* Writing JSON text byte-for-byte as Python's json.dumps(..., indent=2, sort_keys=True) does
 * (what PEFT and HF Trainer write): ensure_ascii string escapes and repr() floats. Callers emit
 * keys in sorted order themselves; these helpers format the scalars. */
#ifndef LB_FORMATS_PYJSON_H
#define LB_FORMATS_PYJSON_H
#include <stdio.h>

/* A JSON string literal with Python's escapes (\" \\ \n \r \t \b \f, other controls and every
 * non-ASCII code point as \uXXXX, astral ones as surrogate pairs). Invalid UTF-8 bytes are
 * written as \ufffd. */
void lb_pyjson_str(FILE *f, const char *s);
/* repr() of a Python float: shortest round-trip digits, "1.0", "1e-05", "NaN", "Infinity". */
void lb_pyjson_double(FILE *f, double x);
/* repr() of the shortest decimal that rounds to this float32 (what a user typed: 0.01f -> 0.01). */
void lb_pyjson_float32(FILE *f, float x);
/* Into a buffer (at least 32 bytes): same text as lb_pyjson_double / lb_pyjson_float32. */
void lb_pyjson_fmt_double(char *buf, double x, int is_f32);
#endif
