/*
 * A small JSON reader (a tree of nodes) and writer for config.json and the
 * state files. Numbers keep their integer value when they have one.
 */
#ifndef MOAT_OCI_JSON_H
#define MOAT_OCI_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

enum json_type { JSON_NULL, JSON_BOOL, JSON_NUMBER, JSON_STRING, JSON_ARRAY, JSON_OBJECT, JSON_MAX };

struct json {
    enum json_type type;
    bool boolean;
    bool is_int;          /* NUMBER: written without fraction or exponent */
    int64_t integer;      /* NUMBER: its value when is_int */
    double number;        /* NUMBER */
    char *str;            /* STRING: its value (NUL-terminated; embedded NULs refused) */
    char *key;            /* member of an OBJECT: its name */
    struct json **items;  /* ARRAY elements / OBJECT members, in order */
    size_t len;
};

/* Parses TEXT (LEN bytes). On error returns -EINVAL and writes a message
 * with the line and column into ERRBUF. *out is a new tree (json_free). */
int json_parse(const char *text, size_t len, struct json **out, char *errbuf, size_t errsize);
void json_free(struct json *j);

/* The member KEY of object OBJ (NULL if OBJ is not an object or lacks it). */
const struct json *json_get(const struct json *obj, const char *key);
const char *json_type_name(enum json_type t);

/* Writes S as a JSON string literal. */
void json_write_string(FILE *f, const char *s);
/* Writes J compactly. */
void json_write(FILE *f, const struct json *j);

#endif
