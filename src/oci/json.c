/* A small recursive-descent JSON parser (RFC 8259) and writer. */
#include "oci/json.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#define JSON_MAX_DEPTH 128

struct json_parser {
    const char *s;
    size_t len, pos;
    char *err;
    size_t errsize;
    bool failed;
};

static void parser_fail(struct json_parser *p, const char *fmt, ...)
{
    if (p->failed)
        return;
    p->failed = true;
    size_t line = 1, col = 1;
    for (size_t i = 0; i < p->pos && i < p->len; i++) {
        if (p->s[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int n = snprintf(p->err, p->errsize, "line %zu column %zu: ", line, col);
    if (n < 0 || (size_t)n >= p->errsize)
        return;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->err + n, p->errsize - (size_t)n, fmt, ap);
    va_end(ap);
}

static void skip_ws(struct json_parser *p)
{
    while (p->pos < p->len) {
        char c = p->s[p->pos];
        if (c != ' ' && c != '\t' && c != '\n' && c != '\r')
            break;
        p->pos++;
    }
}

static struct json *node_new(enum json_type t)
{
    struct json *j = calloc(1, sizeof(*j));
    if (j)
        j->type = t;
    return j;
}

void json_free(struct json *j)
{
    if (!j)
        return;
    for (size_t i = 0; i < j->len; i++)
        json_free(j->items[i]);
    free(j->items);
    free(j->str);
    free(j->key);
    free(j);
}

static int node_append(struct json *parent, struct json *child)
{
    /* Capacity is the next power of two (at least 4): grow at 0, 4, 8 … */
    if (parent->len == 0 || (parent->len >= 4 && (parent->len & (parent->len - 1)) == 0)) {
        size_t cap = parent->len ? parent->len * 2 : 4;
        struct json **n = realloc(parent->items, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        parent->items = n;
    }
    parent->items[parent->len++] = child;
    return 0;
}

static int hex4(struct json_parser *p, unsigned *out)
{
    if (p->pos + 4 > p->len) {
        parser_fail(p, "truncated \\u escape");
        return -1;
    }
    unsigned v = 0;
    for (int i = 0; i < 4; i++) {
        char c = p->s[p->pos++];
        v <<= 4;
        if (c >= '0' && c <= '9')
            v |= (unsigned)(c - '0');
        else if (c >= 'a' && c <= 'f')
            v |= (unsigned)(c - 'a' + 10);
        else if (c >= 'A' && c <= 'F')
            v |= (unsigned)(c - 'A' + 10);
        else {
            parser_fail(p, "bad \\u escape");
            return -1;
        }
    }
    *out = v;
    return 0;
}

static size_t utf8_put(char *o, unsigned cp)
{
    if (cp < 0x80) {
        o[0] = (char)cp;
        return 1;
    }
    if (cp < 0x800) {
        o[0] = (char)(0xc0 | (cp >> 6));
        o[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        o[0] = (char)(0xe0 | (cp >> 12));
        o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
        o[2] = (char)(0x80 | (cp & 0x3f));
        return 3;
    }
    o[0] = (char)(0xf0 | (cp >> 18));
    o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
    o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
    o[3] = (char)(0x80 | (cp & 0x3f));
    return 4;
}

/* At the opening quote; returns a malloc'd string or NULL (error set). */
static char *parse_string(struct json_parser *p)
{
    p->pos++; /* " */
    size_t start = p->pos;
    /* Escapes only shrink, so the raw length bounds the output. */
    size_t end = start;
    while (end < p->len && p->s[end] != '"') {
        if (p->s[end] == '\\')
            end++;
        end++;
    }
    char *out = malloc(end - start + 1 + 4);
    if (!out) {
        parser_fail(p, "out of memory");
        return NULL;
    }
    size_t o = 0;
    for (;;) {
        if (p->pos >= p->len) {
            parser_fail(p, "unterminated string");
            goto fail;
        }
        unsigned char c = (unsigned char)p->s[p->pos++];
        if (c == '"')
            break;
        if (c < 0x20) {
            parser_fail(p, "control character in string");
            goto fail;
        }
        if (c != '\\') {
            out[o++] = (char)c;
            continue;
        }
        if (p->pos >= p->len) {
            parser_fail(p, "unterminated string");
            goto fail;
        }
        char e = p->s[p->pos++];
        switch (e) {
        case '"': out[o++] = '"'; break;
        case '\\': out[o++] = '\\'; break;
        case '/': out[o++] = '/'; break;
        case 'b': out[o++] = '\b'; break;
        case 'f': out[o++] = '\f'; break;
        case 'n': out[o++] = '\n'; break;
        case 'r': out[o++] = '\r'; break;
        case 't': out[o++] = '\t'; break;
        case 'u': {
            unsigned cp;
            if (hex4(p, &cp) < 0)
                goto fail;
            if (cp >= 0xd800 && cp < 0xdc00 && p->pos + 6 <= p->len && p->s[p->pos] == '\\' &&
                p->s[p->pos + 1] == 'u') {
                unsigned lo;
                p->pos += 2;
                if (hex4(p, &lo) < 0)
                    goto fail;
                if (lo >= 0xdc00 && lo < 0xe000)
                    cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
                else
                    cp = 0xfffd;
            } else if (cp >= 0xd800 && cp < 0xe000) {
                cp = 0xfffd;
            }
            if (cp == 0) {
                parser_fail(p, "\\u0000 in string");
                goto fail;
            }
            o += utf8_put(out + o, cp);
            break;
        }
        default:
            parser_fail(p, "bad escape \\%c", e);
            goto fail;
        }
    }
    out[o] = '\0';
    return out;
fail:
    free(out);
    return NULL;
}

static struct json *parse_value(struct json_parser *p, int depth);

static struct json *parse_number(struct json_parser *p)
{
    size_t start = p->pos;
    bool is_int = true;
    if (p->s[p->pos] == '-')
        p->pos++;
    if (p->pos >= p->len || p->s[p->pos] < '0' || p->s[p->pos] > '9') {
        parser_fail(p, "bad number");
        return NULL;
    }
    if (p->s[p->pos] == '0')
        p->pos++;
    else
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
    if (p->pos < p->len && p->s[p->pos] == '.') {
        is_int = false;
        p->pos++;
        size_t d = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
        if (d == p->pos) {
            parser_fail(p, "bad number");
            return NULL;
        }
    }
    if (p->pos < p->len && (p->s[p->pos] == 'e' || p->s[p->pos] == 'E')) {
        is_int = false;
        p->pos++;
        if (p->pos < p->len && (p->s[p->pos] == '+' || p->s[p->pos] == '-'))
            p->pos++;
        size_t d = p->pos;
        while (p->pos < p->len && p->s[p->pos] >= '0' && p->s[p->pos] <= '9')
            p->pos++;
        if (d == p->pos) {
            parser_fail(p, "bad number");
            return NULL;
        }
    }
    char buf[64];
    size_t n = p->pos - start;
    if (n >= sizeof(buf)) {
        parser_fail(p, "number too long");
        return NULL;
    }
    memcpy(buf, p->s + start, n);
    buf[n] = '\0';
    struct json *j = node_new(JSON_NUMBER);
    if (!j) {
        parser_fail(p, "out of memory");
        return NULL;
    }
    j->number = strtod(buf, NULL);
    if (is_int) {
        errno = 0;
        long long v = strtoll(buf, NULL, 10);
        if (errno == 0) {
            j->is_int = true;
            j->integer = v;
        } else if (buf[0] != '-') {
            /* Above INT64_MAX (an unsigned 64-bit value such as a limit). */
            unsigned long long u = strtoull(buf, NULL, 10);
            j->is_int = errno == 0 || u == ~0ULL;
            j->integer = (int64_t)u;
        }
    }
    return j;
}

static bool match_word(struct json_parser *p, const char *w)
{
    size_t n = strlen(w);
    if (p->pos + n <= p->len && memcmp(p->s + p->pos, w, n) == 0) {
        p->pos += n;
        return true;
    }
    return false;
}

static struct json *parse_container(struct json_parser *p, int depth, bool object)
{
    struct json *j = node_new(object ? JSON_OBJECT : JSON_ARRAY);
    if (!j) {
        parser_fail(p, "out of memory");
        return NULL;
    }
    char close = object ? '}' : ']';
    p->pos++;
    skip_ws(p);
    if (p->pos < p->len && p->s[p->pos] == close) {
        p->pos++;
        return j;
    }
    for (;;) {
        char *key = NULL;
        skip_ws(p);
        if (object) {
            if (p->pos >= p->len || p->s[p->pos] != '"') {
                parser_fail(p, "expected a member name in quotes");
                goto fail;
            }
            key = parse_string(p);
            if (!key)
                goto fail;
            skip_ws(p);
            if (p->pos >= p->len || p->s[p->pos] != ':') {
                free(key);
                parser_fail(p, "expected ':' after member name");
                goto fail;
            }
            p->pos++;
        }
        struct json *v = parse_value(p, depth + 1);
        if (!v) {
            free(key);
            goto fail;
        }
        v->key = key;
        if (node_append(j, v) < 0) {
            json_free(v);
            parser_fail(p, "out of memory");
            goto fail;
        }
        skip_ws(p);
        if (p->pos < p->len && p->s[p->pos] == ',') {
            p->pos++;
            continue;
        }
        if (p->pos < p->len && p->s[p->pos] == close) {
            p->pos++;
            return j;
        }
        parser_fail(p, object ? "expected ',' or '}'" : "expected ',' or ']'");
        goto fail;
    }
fail:
    json_free(j);
    return NULL;
}

static struct json *parse_value(struct json_parser *p, int depth)
{
    if (depth > JSON_MAX_DEPTH) {
        parser_fail(p, "nested too deeply");
        return NULL;
    }
    skip_ws(p);
    if (p->pos >= p->len) {
        parser_fail(p, "unexpected end of input");
        return NULL;
    }
    char c = p->s[p->pos];
    struct json *j;
    switch (c) {
    case '{':
        return parse_container(p, depth, true);
    case '[':
        return parse_container(p, depth, false);
    case '"': {
        char *s = parse_string(p);
        if (!s)
            return NULL;
        j = node_new(JSON_STRING);
        if (!j) {
            free(s);
            parser_fail(p, "out of memory");
            return NULL;
        }
        j->str = s;
        return j;
    }
    default:
        break;
    }
    if (c == '-' || (c >= '0' && c <= '9'))
        return parse_number(p);
    enum json_type t;
    bool b = false;
    if (match_word(p, "true")) {
        t = JSON_BOOL;
        b = true;
    } else if (match_word(p, "false")) {
        t = JSON_BOOL;
    } else if (match_word(p, "null")) {
        t = JSON_NULL;
    } else {
        parser_fail(p, "unexpected character '%c'", c);
        return NULL;
    }
    j = node_new(t);
    if (!j) {
        parser_fail(p, "out of memory");
        return NULL;
    }
    j->boolean = b;
    return j;
}

int json_parse(const char *text, size_t len, struct json **out, char *errbuf, size_t errsize)
{
    struct json_parser p = {.s = text, .len = len, .err = errbuf, .errsize = errsize};
    if (errsize)
        errbuf[0] = '\0';
    if (memchr(text, '\0', len)) {
        p.pos = (size_t)((const char *)memchr(text, '\0', len) - text);
        parser_fail(&p, "NUL byte in input");
        return -EINVAL;
    }
    struct json *j = parse_value(&p, 0);
    if (!j)
        return -EINVAL;
    skip_ws(&p);
    if (p.pos != p.len) {
        parser_fail(&p, "trailing characters after the value");
        json_free(j);
        return -EINVAL;
    }
    *out = j;
    return 0;
}

const struct json *json_get(const struct json *obj, const char *key)
{
    if (!obj || obj->type != JSON_OBJECT)
        return NULL;
    /* The last duplicate wins, as in Go's encoding/json (what runc uses). */
    for (size_t i = obj->len; i-- > 0;)
        if (strcmp(obj->items[i]->key, key) == 0)
            return obj->items[i];
    return NULL;
}

const char *json_type_name(enum json_type t)
{
    static const char *const names[JSON_MAX] = {"null", "a boolean", "a number", "a string",
                                                 "an array", "an object"};
    return t < JSON_MAX ? names[t] : "?";
}

void json_write_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (const unsigned char *c = (const unsigned char *)s; *c; c++) {
        switch (*c) {
        case '"': fputs("\\\"", f); break;
        case '\\': fputs("\\\\", f); break;
        case '\n': fputs("\\n", f); break;
        case '\r': fputs("\\r", f); break;
        case '\t': fputs("\\t", f); break;
        default:
            if (*c < 0x20)
                fprintf(f, "\\u%04x", *c);
            else
                fputc(*c, f);
        }
    }
    fputc('"', f);
}

void json_write(FILE *f, const struct json *j)
{
    switch (j->type) {
    case JSON_NULL: fputs("null", f); break;
    case JSON_BOOL: fputs(j->boolean ? "true" : "false", f); break;
    case JSON_NUMBER:
        if (j->is_int)
            fprintf(f, "%lld", (long long)j->integer);
        else if (isfinite(j->number))
            fprintf(f, "%.17g", j->number);
        else
            fputs("null", f);
        break;
    case JSON_STRING: json_write_string(f, j->str); break;
    case JSON_ARRAY:
    case JSON_OBJECT:
        fputc(j->type == JSON_ARRAY ? '[' : '{', f);
        for (size_t i = 0; i < j->len; i++) {
            if (i)
                fputc(',', f);
            if (j->type == JSON_OBJECT) {
                json_write_string(f, j->items[i]->key);
                fputc(':', f);
            }
            json_write(f, j->items[i]);
        }
        fputc(j->type == JSON_ARRAY ? ']' : '}', f);
        break;
    default: break;
    }
}
