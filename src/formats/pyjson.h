/* JSON as Python's json module reads and writes it.
 *
 * Owns: (1) writing JSON text byte-for-byte as json.dumps(..., indent=2, sort_keys=True) does
 * (what PEFT and HF Trainer write): ensure_ascii string escapes and repr() floats; callers emit
 * keys in sorted order themselves, these helpers format the scalars. (2) Reading the HF JSON
 * files (config.json, tokenizer.json, tokenizer_config.json, adapter_config.json, ...) with
 * json.loads' rules on top of cJSON. Why: transformers reads them with json.load, so a file it
 * accepts differently must not load differently here. Guarantees of lb_json_parse: exactly one
 * value with only whitespace around it ("Extra data" after it is refused, as in Python); a key
 * repeated in an object keeps the LAST value at the FIRST key's position (a dict built in
 * order); a syntax error names line and column (1-based, columns in bytes) like Python does. */
#ifndef LB_FORMATS_PYJSON_H
#define LB_FORMATS_PYJSON_H
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <cjson/cJSON.h>
#include "base/error.h"

/* Parses text[0..len) as above; NULL with LB_ERR_FORMAT "NAME: invalid JSON at line L column
 * C: REASON" (name is used in messages only). */
cJSON *lb_json_parse(const char *name, const char *text, size_t len, lb_error *err);
/* Reads path (a regular file of at most max bytes; what names its kind in the size error) and
 * parses it; with want_object, a value that is not an object is LB_ERR_FORMAT "PATH: expected
 * a JSON object, found an array" (or string, number, ...). */
cJSON *lb_json_read_file(const char *path, size_t max, const char *what, bool want_object, lb_error *err);
/* "an array", "a string", ... for messages. */
const char *lb_json_kind(const cJSON *v);

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
