/* Reading the store's msgpack records in C: a cursor over a part's bytes,
 * big-endian numbers, an array's length and an integer. Shared by the
 * exports' decoder (exports/_columns.c) and verify's reader of a batch's
 * integer fields (verification/_fields.c), each built as its own module.
 *
 * Each reader returns -1 with ValueError set ("damaged record: ...") when
 * the bytes are not what it reads. */
#ifndef SHARDGEN_MSGPACK_H
#define SHARDGEN_MSGPACK_H

#include <Python.h>
#include <stdint.h>

typedef struct {
    const uint8_t *at, *end;
} Reader;

static inline int damaged(const char *what) {
    PyErr_Format(PyExc_ValueError, "damaged record: %s", what);
    return -1;
}

static inline int need(Reader *r, Py_ssize_t n) {
    if (r->end - r->at < n) return damaged("it ends early");
    return 0;
}

static inline uint16_t be16(const uint8_t *p) { return (uint16_t)((p[0] << 8) | p[1]); }
static inline uint32_t be32(const uint8_t *p) {
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}
static inline uint64_t be64(const uint8_t *p) {
    return ((uint64_t)be32(p) << 32) | be32(p + 4);
}

static inline Py_ssize_t array_length(Reader *r);

/* The part's record count: its array's length, which cannot exceed the
 * bytes left (each record takes one at least). */
static inline Py_ssize_t record_count(Reader *r) {
    Py_ssize_t rows = array_length(r);
    if (rows > r->end - r->at) {
        damaged("it ends early");
        return -1;
    }
    return rows;
}

/* An array's length; -1 with an exception set if it is not an array. */
static inline Py_ssize_t array_length(Reader *r) {
    if (need(r, 1)) return -1;
    uint8_t b = *r->at++;
    if ((b & 0xf0) == 0x90) return b & 0x0f;
    if (b == 0xdc) {
        if (need(r, 2)) return -1;
        Py_ssize_t n = be16(r->at);
        r->at += 2;
        return n;
    }
    if (b == 0xdd) {
        if (need(r, 4)) return -1;
        Py_ssize_t n = (Py_ssize_t)be32(r->at);
        r->at += 4;
        return n;
    }
    damaged("not an array");
    return -1;
}

/* An integer: 0 and *value, 1 for nil, -1 with an exception set. */
static inline int read_int(Reader *r, int64_t *value) {
    if (need(r, 1)) return -1;
    uint8_t b = *r->at++;
    if (b <= 0x7f) { *value = b; return 0; }
    if (b >= 0xe0) { *value = (int8_t)b; return 0; }
    if (b == 0xc0) return 1;
    static const int8_t widths[8] = {1, 2, 4, 8, 1, 2, 4, 8}; /* 0xcc..0xd3 */
    if (b < 0xcc || b > 0xd3) return damaged("an integer expected");
    Py_ssize_t width = widths[b - 0xcc];
    if (need(r, width)) return -1;
    const uint8_t *p = r->at;
    r->at += width;
    switch (b) {
    case 0xcc: *value = p[0]; return 0;
    case 0xcd: *value = be16(p); return 0;
    case 0xce: *value = be32(p); return 0;
    case 0xcf: {
        uint64_t u = be64(p);
        if (u > (uint64_t)INT64_MAX) return damaged("an integer beyond 64 bits");
        *value = (int64_t)u;
        return 0;
    }
    case 0xd0: *value = (int8_t)p[0]; return 0;
    case 0xd1: *value = (int16_t)be16(p); return 0;
    case 0xd2: *value = (int32_t)be32(p); return 0;
    default: *value = (int64_t)be64(p); return 0;
    }
}

#endif
