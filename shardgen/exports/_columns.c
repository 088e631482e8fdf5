/* A part's records, as the store holds them (one msgpack array of msgpack
 * arrays, one value per contract column), decoded straight into the buffers
 * of Arrow arrays, PostgreSQL's binary COPY data, CSV or JSON lines text, or
 * the SQLite export's rows: no Python object per value (the rows apart).
 * `files`, `copydata` and `render` call it, and fall back to decoding
 * through Python objects where this module was not built.
 *
 * Every function takes a column's contract kind as one letter (`native.KINDS`):
 * 'k' id, 'i' int, 's' text, 'b' bool, 'd' date (days), 't' timestamp
 * (whole seconds), 'm' money and basis points (hundredths), 'p' percent
 * (whole percents), 'x' decimal (a float of units, rounded to hundredths
 * half to even, as Python's round(value * 100)).
 *
 * decode(packed, kinds) -> list, one entry per column, the contract's Arrow
 * type: 'k' int64, 'i' int32, 'd' date32, 't' int64 milliseconds, 'm' 'p'
 * 'x' 128-bit decimals of hundredths: (nulls, validity, values)
 *   'b' bool:                          (nulls, validity, bits)
 *   's' UTF-8 text:                    (nulls, validity, offsets, data)
 * `validity` is None where the column has no NULL; bitmaps are Arrow's
 * (least significant bit first), offsets int32, all little-endian, as Arrow
 * lays them out on the machines it runs on. Returns (rows, columns).
 *
 * A value of the wrong kind, a record of the wrong length, an integer out of
 * its column's range, text that is not UTF-8 or bytes past the end raise
 * ValueError: the store is damaged, as `pyarrow.array` would have said. */

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <math.h>
#include <string.h>

#include "../_msgpack.h"

#if PY_BIG_ENDIAN
#error "Arrow buffers are laid out little-endian here"
#endif

typedef struct {
    char kind;
    int64_t nulls;
    uint8_t *validity; /* NULL until the first null */
    char *values;      /* fixed width: rows * width; bool: bitmap; text: offsets */
    char *data;        /* text bytes */
    Py_ssize_t used, size;
} Out;

/* A float (64 or 32 bits): 1 and *number; 0 when the value is not a float
 * (nothing read); -1 with an exception set. */
static int read_float(Reader *r, double *number) {
    if (need(r, 1)) return -1;
    uint8_t b = *r->at;
    if (b == 0xcb) {
        if (need(r, 9)) return -1;
        uint64_t bits = be64(r->at + 1);
        memcpy(number, &bits, 8);
        r->at += 9;
        return 1;
    }
    if (b == 0xca) {
        if (need(r, 5)) return -1;
        uint32_t bits = be32(r->at + 1);
        float single;
        memcpy(&single, &bits, 4);
        *number = single;
        r->at += 5;
        return 1;
    }
    return 0;
}

/* A number of units, float or integer, as hundredths rounded half to even
 * from the same double (as Python's round(value * 100)): 0 and *hundredths,
 * 1 for nil, -1 with an exception set. */
static int read_units(Reader *r, int64_t *hundredths) {
    double number;
    int64_t value;
    int got = read_float(r, &number);
    if (got < 0) return -1;
    if (got == 0) {
        got = read_int(r, &value);
        if (got) return got;
        number = (double)value;
    }
    double rounded = nearbyint(number * 100.0);
    if (!(rounded > -9.2e18 && rounded < 9.2e18)) return damaged("a decimal beyond 64 bits");
    *hundredths = (int64_t)rounded;
    return 0;
}

static int utf8(const uint8_t *s, Py_ssize_t n);

/* Whether the next value is a text (any of msgpack's four forms). */
static inline int is_text(uint8_t b) {
    return (b & 0xe0) == 0xa0 || b == 0xd9 || b == 0xda || b == 0xdb;
}

/* A text: 0 with *at and *n its bytes, checked to be UTF-8; 1 for nil; -1
 * with an exception set. */
static int read_str(Reader *r, const uint8_t **at, Py_ssize_t *n) {
    if (need(r, 1)) return -1;
    uint8_t b = *r->at;
    Py_ssize_t header;
    if (b == 0xc0) {
        r->at++;
        return 1;
    } else if ((b & 0xe0) == 0xa0) {
        *n = b & 0x1f;
        header = 1;
    } else if (b == 0xd9) {
        if (need(r, 2)) return -1;
        *n = r->at[1];
        header = 2;
    } else if (b == 0xda) {
        if (need(r, 3)) return -1;
        *n = be16(r->at + 1);
        header = 3;
    } else if (b == 0xdb) {
        if (need(r, 5)) return -1;
        *n = (Py_ssize_t)be32(r->at + 1);
        header = 5;
    } else {
        return damaged("a text expected");
    }
    r->at += header;
    if (need(r, *n)) return -1;
    if (!utf8(r->at, *n)) return damaged("a text that is not UTF-8");
    *at = r->at;
    r->at += *n;
    return 0;
}

/* The next record: an array of `width` values. */
static int next_record(Reader *r, Py_ssize_t width) {
    Py_ssize_t n = array_length(r);
    if (n < 0) return -1;
    if (n != width) return damaged("a record with another number of values than the table's columns");
    return 0;
}

/* Nothing may follow the last record. */
static int finished(Reader *r) {
    return r->at == r->end ? 0 : damaged("bytes after the last record");
}

/* Whether n bytes are UTF-8 as Python decodes it (no surrogates, no
 * overlong forms, nothing past U+10FFFF). */
static int utf8(const uint8_t *s, Py_ssize_t n) {
    const uint8_t *end = s + n;
    while (s < end) {
        if (end - s >= 8) {
            uint64_t eight;
            memcpy(&eight, s, 8);
            if (!(eight & 0x8080808080808080ULL)) { s += 8; continue; }
        }
        uint8_t c = *s;
        if (c < 0x80) { s++; continue; }
        if (c >= 0xc2 && c <= 0xdf) {
            if (end - s < 2 || (s[1] & 0xc0) != 0x80) return 0;
            s += 2;
        } else if (c >= 0xe0 && c <= 0xef) {
            if (end - s < 3 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80) return 0;
            if (c == 0xe0 && s[1] < 0xa0) return 0;  /* overlong */
            if (c == 0xed && s[1] >= 0xa0) return 0; /* surrogate */
            s += 3;
        } else if (c >= 0xf0 && c <= 0xf4) {
            if (end - s < 4 || (s[1] & 0xc0) != 0x80 || (s[2] & 0xc0) != 0x80 ||
                (s[3] & 0xc0) != 0x80)
                return 0;
            if (c == 0xf0 && s[1] < 0x90) return 0; /* overlong */
            if (c == 0xf4 && s[1] >= 0x90) return 0; /* past U+10FFFF */
            s += 4;
        } else {
            return 0;
        }
    }
    return 1;
}

static int set_null(Out *out, Py_ssize_t row, Py_ssize_t rows) {
    if (out->validity == NULL) {
        Py_ssize_t bytes = (rows + 7) / 8;
        out->validity = PyMem_Malloc(bytes ? bytes : 1);
        if (out->validity == NULL) { PyErr_NoMemory(); return -1; }
        memset(out->validity, 0xff, bytes);
    }
    out->validity[row >> 3] &= (uint8_t)~(1u << (row & 7));
    out->nulls++;
    return 0;
}

static int read_text(Reader *r, Out *out, Py_ssize_t row, Py_ssize_t rows) {
    const uint8_t *at = NULL;
    Py_ssize_t n = 0;
    int got = read_str(r, &at, &n);
    if (got < 0) return -1;
    if (got == 1) {
        if (set_null(out, row, rows)) return -1;
    } else {
        if (out->used + n > INT32_MAX) return damaged("a part's text beyond 2 GiB");
        if (out->used + n > out->size) {
            Py_ssize_t size = out->size ? out->size : 4096;
            while (size < out->used + n) size *= 2;
            char *grown = PyMem_Realloc(out->data, size);
            if (grown == NULL) { PyErr_NoMemory(); return -1; }
            out->data = grown;
            out->size = size;
        }
        memcpy(out->data + out->used, at, n);
        out->used += n;
    }
    int32_t end = (int32_t)out->used;
    memcpy(out->values + 4 * (row + 1), &end, 4);
    return 0;
}

static int read_value(Reader *r, Out *out, Py_ssize_t row, Py_ssize_t rows) {
    int64_t value = 0;
    int got;
    switch (out->kind) {
    case 'k':
        got = read_int(r, &value);
        if (got < 0) return -1;
        if (got == 1 && set_null(out, row, rows)) return -1;
        memcpy(out->values + 8 * row, &value, 8);
        return 0;
    case 'i':
    case 'd': {
        got = read_int(r, &value);
        if (got < 0) return -1;
        if (got == 1 && set_null(out, row, rows)) return -1;
        if (value < INT32_MIN || value > INT32_MAX) return damaged("an integer beyond 32 bits");
        int32_t small = (int32_t)value;
        memcpy(out->values + 4 * row, &small, 4);
        return 0;
    }
    case 't':
        got = read_int(r, &value);
        if (got < 0) return -1;
        if (got == 1 && set_null(out, row, rows)) return -1;
        if (value > INT64_MAX / 1000 || value < INT64_MIN / 1000)
            return damaged("a timestamp beyond 64 bits of milliseconds");
        value *= 1000;
        memcpy(out->values + 8 * row, &value, 8);
        return 0;
    case 'm':
    case 'p':
    case 'x': {
        got = out->kind == 'x' ? read_units(r, &value) : read_int(r, &value);
        if (got < 0) return -1;
        if (got == 1 && set_null(out, row, rows)) return -1;
        if (out->kind == 'p') {
            if (value > INT64_MAX / 100 || value < INT64_MIN / 100)
                return damaged("a decimal beyond 64 bits");
            value *= 100;
        }
        int64_t high = value < 0 ? -1 : 0;
        memcpy(out->values + 16 * row, &value, 8);
        memcpy(out->values + 16 * row + 8, &high, 8);
        return 0;
    }
    case 'b': {
        if (need(r, 1)) return -1;
        uint8_t b = *r->at++;
        if (b == 0xc3) {
            out->values[row >> 3] |= (char)(1u << (row & 7));
        } else if (b == 0xc0) {
            if (set_null(out, row, rows)) return -1;
        } else if (b != 0xc2) {
            return damaged("a boolean expected");
        }
        return 0;
    }
    default:
        return read_text(r, out, row, rows);
    }
}

/* The bytes of a column's values (offsets, for a text) in `decode`; -1 for
 * an unknown kind. */
static Py_ssize_t values_size(char kind, Py_ssize_t rows) {
    switch (kind) {
    case 'k': case 't': return 8 * rows;
    case 'm': case 'p': case 'x': return 16 * rows;
    case 'i': case 'd': return 4 * rows;
    case 'b': return (rows + 7) / 8;
    case 's': return 4 * (rows + 1);
    default: return -1;
    }
}

static PyObject *column_result(Out *out, Py_ssize_t rows) {
    PyObject *validity, *values, *result;
    if (out->validity != NULL) {
        validity = PyBytes_FromStringAndSize((char *)out->validity, (rows + 7) / 8);
        if (validity == NULL) return NULL;
    } else {
        validity = Py_NewRef(Py_None);
    }
    values = PyBytes_FromStringAndSize(out->values, values_size(out->kind, rows));
    if (values == NULL) { Py_DECREF(validity); return NULL; }
    if (out->kind == 's') {
        PyObject *data = PyBytes_FromStringAndSize(out->data ? out->data : "", out->used);
        if (data == NULL) { Py_DECREF(validity); Py_DECREF(values); return NULL; }
        result = Py_BuildValue("(LNNN)", (long long)out->nulls, validity, values, data);
    } else {
        result = Py_BuildValue("(LNN)", (long long)out->nulls, validity, values);
    }
    return result;
}

static PyObject *decode(PyObject *self, PyObject *args) {
    Py_buffer packed;
    const char *kinds;
    Py_ssize_t width;
    PyObject *result = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*s#:decode", &packed, &kinds, &width)) return NULL;
    Out *outs = PyMem_Calloc(width ? width : 1, sizeof(Out));
    if (outs == NULL) { PyBuffer_Release(&packed); return PyErr_NoMemory(); }
    Reader r = {packed.buf, (const uint8_t *)packed.buf + packed.len};
    Py_ssize_t rows = record_count(&r);
    if (rows < 0) goto done;
    for (Py_ssize_t c = 0; c < width; c++) {
        Out *out = &outs[c];
        out->kind = kinds[c];
        Py_ssize_t bytes = values_size(out->kind, rows);
        if (bytes < 0) {
            PyErr_Format(PyExc_ValueError, "unknown kind %c", out->kind);
            goto done;
        }
        out->values = PyMem_Calloc(bytes ? bytes : 1, 1);
        if (out->values == NULL) { PyErr_NoMemory(); goto done; }
    }
    for (Py_ssize_t row = 0; row < rows; row++) {
        if (next_record(&r, width)) goto done;
        for (Py_ssize_t c = 0; c < width; c++)
            if (read_value(&r, &outs[c], row, rows)) goto done;
    }
    if (finished(&r)) goto done;
    PyObject *columns = PyList_New(width);
    if (columns == NULL) goto done;
    for (Py_ssize_t c = 0; c < width; c++) {
        PyObject *column = column_result(&outs[c], rows);
        if (column == NULL) { Py_DECREF(columns); goto done; }
        PyList_SET_ITEM(columns, c, column);
    }
    result = Py_BuildValue("(nN)", rows, columns);
done:
    for (Py_ssize_t c = 0; c < width; c++) {
        PyMem_Free(outs[c].validity);
        PyMem_Free(outs[c].values);
        PyMem_Free(outs[c].data);
    }
    PyMem_Free(outs);
    PyBuffer_Release(&packed);
    return result;
}

/* -- PostgreSQL's binary COPY ------------------------------------------------ */

typedef struct {
    char *data;
    Py_ssize_t used, size;
} Sink;

static int grow(Sink *out, Py_ssize_t more) {
    if (out->used + more <= out->size) return 0;
    Py_ssize_t size = out->size ? out->size : 65536;
    while (size < out->used + more) size *= 2;
    char *grown = PyMem_Realloc(out->data, size);
    if (grown == NULL) { PyErr_NoMemory(); return -1; }
    out->data = grown;
    out->size = size;
    return 0;
}

static inline void put16(Sink *out, uint16_t v) {
    uint8_t *p = (uint8_t *)out->data + out->used;
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
    out->used += 2;
}

static inline void put32(Sink *out, uint32_t v) {
    put16(out, (uint16_t)(v >> 16));
    put16(out, (uint16_t)v);
}

static inline void put64(Sink *out, uint64_t v) {
    put32(out, (uint32_t)(v >> 32));
    put32(out, (uint32_t)v);
}

/* A count of hundredths as a NUMERIC of scale 2: digit count, weight, sign,
 * display scale, then base-10000 digits, the last one the cents (as
 * copydata's `_numerics` and `_wide_numerics` write them). */
static int put_numeric(Sink *out, int64_t hundredths) {
    uint64_t magnitude = hundredths < 0 ? (uint64_t)0 - (uint64_t)hundredths : (uint64_t)hundredths;
    uint64_t whole = magnitude / 100;
    uint16_t digits[8];
    int count = 0;
    digits[count++] = (uint16_t)((magnitude % 100) * 100);
    do {
        digits[count++] = (uint16_t)(whole % 10000);
        whole /= 10000;
    } while (whole);
    if (grow(out, 12 + 2 * count)) return -1;
    put32(out, (uint32_t)(8 + 2 * count));
    put16(out, (uint16_t)count);
    put16(out, (uint16_t)(count - 2));
    put16(out, hundredths < 0 ? 0x4000 : 0);
    put16(out, 2);
    for (int i = count - 1; i >= 0; i--) put16(out, digits[i]);
    return 0;
}

#define DAYS_2000 10957
#define SECONDS_2000 946684800LL

/* One value of a column of the given kind as a COPY field: 'k' int8, 'i'
 * int4, 'b' bool, 'd' date, 't' timestamp, 'm' 'p' 'x' NUMERIC of scale 2,
 * 's' text. */
static int copy_value(Reader *r, Sink *out, char kind) {
    int64_t value = 0;
    int got;
    if (need(r, 1)) return -1;
    if (*r->at == 0xc0) {
        r->at++;
        if (grow(out, 4)) return -1;
        put32(out, 0xffffffffu);
        return 0;
    }
    switch (kind) {
    case 's': {
        const uint8_t *at = NULL;
        Py_ssize_t n = 0;
        if (read_str(r, &at, &n)) return -1; /* not nil: read above */
        if (n > INT32_MAX) return damaged("a text beyond 2 GiB");
        if (grow(out, 4 + n)) return -1;
        put32(out, (uint32_t)n);
        memcpy(out->data + out->used, at, n);
        out->used += n;
        return 0;
    }
    case 'b': {
        uint8_t b = *r->at++;
        if (b != 0xc2 && b != 0xc3) return damaged("a boolean expected");
        if (grow(out, 5)) return -1;
        put32(out, 1);
        out->data[out->used++] = b == 0xc3;
        return 0;
    }
    case 'x':
        if (read_units(r, &value)) return -1; /* not nil: read above */
        return put_numeric(out, value);
    default:
        break;
    }
    got = read_int(r, &value);
    if (got < 0) return -1;
    switch (kind) {
    case 'k':
        if (grow(out, 12)) return -1;
        put32(out, 8);
        put64(out, (uint64_t)value);
        return 0;
    case 'i':
    case 'd':
        if (kind == 'd') value -= DAYS_2000;
        if (value < INT32_MIN || value > INT32_MAX) return damaged("an integer beyond 32 bits");
        if (grow(out, 8)) return -1;
        put32(out, 4);
        put32(out, (uint32_t)(int32_t)value);
        return 0;
    case 't':
        if (value > INT64_MAX / 1000000 || value < INT64_MIN / 1000000 + SECONDS_2000)
            return damaged("a timestamp beyond 64 bits");
        if (grow(out, 12)) return -1;
        put32(out, 8);
        put64(out, (uint64_t)((value - SECONDS_2000) * 1000000));
        return 0;
    case 'm':
        return put_numeric(out, value);
    case 'p':
        if (value > INT64_MAX / 100 || value < INT64_MIN / 100) return damaged("a percent beyond 64 bits");
        return put_numeric(out, value * 100);
    default:
        PyErr_Format(PyExc_ValueError, "unknown kind %c", kind);
        return -1;
    }
}

static const char COPY_HEADER[19] = "PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";

static PyObject *copy_binary(PyObject *self, PyObject *args) {
    Py_buffer packed;
    const char *kinds;
    Py_ssize_t width;
    PyObject *result = NULL;
    Sink out = {NULL, 0, 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "y*s#:copy_binary", &packed, &kinds, &width)) return NULL;
    Reader r = {packed.buf, (const uint8_t *)packed.buf + packed.len};
    Py_ssize_t rows = record_count(&r);
    if (rows < 0 || grow(&out, packed.len + packed.len / 2 + 64)) goto done;
    memcpy(out.data, COPY_HEADER, sizeof COPY_HEADER);
    out.used = sizeof COPY_HEADER;
    for (Py_ssize_t row = 0; row < rows; row++) {
        if (next_record(&r, width)) goto done;
        if (grow(&out, 2)) goto done;
        put16(&out, (uint16_t)width);
        for (Py_ssize_t c = 0; c < width; c++)
            if (copy_value(&r, &out, kinds[c])) goto done;
    }
    if (finished(&r)) goto done;
    if (grow(&out, 2)) goto done;
    put16(&out, 0xffff);
    result = PyBytes_FromStringAndSize(out.data, out.used);
done:
    PyMem_Free(out.data);
    PyBuffer_Release(&packed);
    return result;
}

/* -- the SQLite export's values ------------------------------------------------ */

/* Days since 1970-01-01 as year, month, day (the proleptic Gregorian
 * calendar, as Python's date); 0, or -1 outside years 1 to 9999. */
static int civil(int64_t days, int *year, int *month, int *day) {
    if (days < -719162 || days > 2932896) return -1;
    int64_t z = days + 719468;
    int64_t era = (z >= 0 ? z : z - 146096) / 146097;
    int64_t doe = z - era * 146097;
    int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    int64_t mp = (5 * doy + 2) / 153;
    *day = (int)(doy - (153 * mp + 2) / 5 + 1);
    *month = (int)(mp < 10 ? mp + 3 : mp - 9);
    *year = (int)(yoe + era * 400 + (*month <= 2));
    return 0;
}

static inline void digits(char *at, int value, int width) {
    for (int i = width - 1; i >= 0; i--) {
        at[i] = (char)('0' + value % 10);
        value /= 10;
    }
}

/* A date (`value` days since 1970-01-01) as "YYYY-MM-DD", or with
 * `timestamp` (`value` seconds since 1970-01-01 UTC) "YYYY-MM-DDTHH:MM:SSZ",
 * written at `text`: its length, or -1 with an exception set for a date
 * outside years 1 to 9999. */
static int write_iso(char *text, int64_t value, int timestamp) {
    int year, month, day;
    int64_t days = value, seconds = -1;
    if (timestamp) { /* epoch seconds: the day, and the seconds into it */
        days = value / 86400;
        seconds = value % 86400;
        if (seconds < 0) { seconds += 86400; days -= 1; }
    }
    if (civil(days, &year, &month, &day)) return damaged("a date outside years 1 to 9999");
    digits(text, year, 4);
    text[4] = '-';
    digits(text + 5, month, 2);
    text[7] = '-';
    digits(text + 8, day, 2);
    if (seconds < 0) return 10;
    text[10] = 'T';
    digits(text + 11, (int)(seconds / 3600), 2);
    text[13] = ':';
    digits(text + 14, (int)(seconds / 60 % 60), 2);
    text[16] = ':';
    digits(text + 17, (int)(seconds % 60), 2);
    text[19] = 'Z';
    return 20;
}

static PyObject *iso(int64_t value, int timestamp) {
    char text[20];
    int n = write_iso(text, value, timestamp);
    return n < 0 ? NULL : PyUnicode_FromStringAndSize(text, n);
}

/* One value as the SQLite export writes it (render.sqlite_rows): a boolean
 * as 1 or 0, a date or timestamp as ISO text, money and basis points as a
 * float of units, the rest as stored (integers, floats, texts); NULL as None. */
static PyObject *sqlite_value(Reader *r, char kind) {
    int64_t value = 0;
    int as_stored = kind == 'k' || kind == 'i' || kind == 's' || kind == 'p' || kind == 'x';
    if (need(r, 1)) return NULL;
    uint8_t b = *r->at;
    if (b == 0xc0) {
        r->at++;
        if (kind == 'b') return PyLong_FromLong(0);
        Py_RETURN_NONE;
    }
    if (kind == 'b') {
        r->at++;
        if (b != 0xc2 && b != 0xc3) { damaged("a boolean expected"); return NULL; }
        return PyLong_FromLong(b == 0xc3);
    }
    if (as_stored) {
        if (b == 0xc2 || b == 0xc3) { r->at++; return PyBool_FromLong(b == 0xc3); }
        double number;
        int got = read_float(r, &number);
        if (got) return got < 0 ? NULL : PyFloat_FromDouble(number);
        if (is_text(b)) {
            const uint8_t *at = NULL;
            Py_ssize_t n = 0;
            if (read_str(r, &at, &n)) return NULL;
            return PyUnicode_DecodeUTF8((const char *)at, n, "strict");
        }
        if (b == 0xcf && need(r, 9) == 0 && be64(r->at + 1) > (uint64_t)INT64_MAX) {
            PyObject *big = PyLong_FromUnsignedLongLong(be64(r->at + 1));
            r->at += 9;
            return big;
        }
    }
    if (read_int(r, &value) < 0) return NULL;
    if (as_stored) return PyLong_FromLongLong(value);
    switch (kind) {
    case 'd':
        return iso(value, 0);
    case 't':
        return iso(value, 1);
    case 'm': {
        if (value > (INT64_C(1) << 53) || value < -(INT64_C(1) << 53)) {
            /* beyond a double's integers: as Python divides them, exactly rounded */
            PyObject *whole = PyLong_FromLongLong(value), *hundred = PyLong_FromLong(100);
            PyObject *units = whole && hundred ? PyNumber_TrueDivide(whole, hundred) : NULL;
            Py_XDECREF(whole);
            Py_XDECREF(hundred);
            return units;
        }
        return PyFloat_FromDouble((double)value / 100.0);
    }
    default:
        PyErr_Format(PyExc_ValueError, "unknown kind %c", kind);
        return NULL;
    }
}

static PyObject *sqlite_rows(PyObject *self, PyObject *args) {
    Py_buffer packed;
    const char *kinds;
    Py_ssize_t width;
    PyObject *rows = NULL;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*s#:sqlite_rows", &packed, &kinds, &width)) return NULL;
    Reader r = {packed.buf, (const uint8_t *)packed.buf + packed.len};
    Py_ssize_t count = record_count(&r);
    if (count < 0 || (rows = PyList_New(count)) == NULL) goto done;
    for (Py_ssize_t row = 0; row < count; row++) {
        if (next_record(&r, width)) goto failed;
        PyObject *values = PyTuple_New(width);
        if (values == NULL) goto failed;
        PyList_SET_ITEM(rows, row, values);
        for (Py_ssize_t c = 0; c < width; c++) {
            PyObject *value = sqlite_value(&r, kinds[c]);
            if (value == NULL) goto failed;
            PyTuple_SET_ITEM(values, c, value);
        }
    }
    if (finished(&r)) goto failed;
    goto done;
failed:
    Py_CLEAR(rows);
done:
    PyBuffer_Release(&packed);
    return rows;
}

/* -- SQLite's table pages ------------------------------------------------------ */

/* A SQLite varint: big-endian groups of 7 bits, the high bit set on all but
 * the last; a ninth byte, if needed, holds 8 bits. Returns its length. */
static int sqlite_varint(uint8_t *p, uint64_t v) {
    if (v <= 0x7f) { p[0] = (uint8_t)v; return 1; }
    if (v >> 56) {
        p[8] = (uint8_t)v;
        v >>= 8;
        for (int i = 7; i >= 0; i--) { p[i] = (uint8_t)((v & 0x7f) | 0x80); v >>= 7; }
        return 9;
    }
    uint8_t group[9];
    int n = 0;
    do { group[n++] = (uint8_t)((v & 0x7f) | 0x80); v >>= 7; } while (v);
    group[0] &= 0x7f;
    for (int i = 0; i < n; i++) p[i] = group[n - 1 - i];
    return n;
}

/* A record being built: its serial types and its body. */
typedef struct {
    Sink types, body;
} Record;

static int record_type(Record *rec, uint64_t type) {
    if (grow(&rec->types, 9)) return -1;
    rec->types.used += sqlite_varint((uint8_t *)rec->types.data + rec->types.used, type);
    return 0;
}

/* An integer as SQLite stores it (sqlite3VdbeSerialType, file format 4):
 * 0 and 1 in the type alone, else the fewest of 1, 2, 3, 4, 6 or 8 bytes. */
/* An integer's serial type, and its body (big-endian) at `body`: its width. */
static int int_serial(int64_t i, int *type, uint8_t *body) {
    uint64_t u = i < 0 ? ~(uint64_t)i : (uint64_t)i;
    int width;
    if (i == 0 || i == 1) { *type = 8 + (int)i; return 0; }
    if (u <= 127) { *type = 1; width = 1; }
    else if (u <= 32767) { *type = 2; width = 2; }
    else if (u <= 8388607) { *type = 3; width = 3; }
    else if (u <= 2147483647) { *type = 4; width = 4; }
    else if (u <= 140737488355327) { *type = 5; width = 6; }
    else { *type = 6; width = 8; }
    for (int b = width - 1; b >= 0; b--) { body[b] = (uint8_t)i; i >>= 8; }
    return width;
}

static int record_int(Record *rec, int64_t i) {
    int type;
    uint8_t body[8];
    int width = int_serial(i, &type, body);
    if (record_type(rec, (uint64_t)type) || grow(&rec->body, width)) return -1;
    memcpy(rec->body.data + rec->body.used, body, width);
    rec->body.used += width;
    return 0;
}

static int record_real(Record *rec, double d) {
    uint64_t bits;
    memcpy(&bits, &d, 8);
    if (record_type(rec, 7) || grow(&rec->body, 8)) return -1;
    put64(&rec->body, bits);
    return 0;
}

static int record_text(Record *rec, const char *at, Py_ssize_t n) {
    if (record_type(rec, 13 + 2 * (uint64_t)n) || grow(&rec->body, n)) return -1;
    memcpy(rec->body.data + rec->body.used, at, n);
    rec->body.used += n;
    return 0;
}

/* A number in a column of INTEGER or NUMERIC affinity: an integer if the
 * double is one (as SQLite's sqlite3VdbeIntegerAffinity converts it), else
 * a REAL. */
static int record_number(Record *rec, double d) {
    if (d != d) return damaged("a NaN");
    if (d > -9223372036854775808.0 && d < 9223372036854775808.0) {
        int64_t i = (int64_t)d;
        if ((double)i == d && i != INT64_MIN && i != INT64_MAX) return record_int(rec, i);
    }
    return record_real(rec, d);
}

/* One value as the SQLite export stores it (the values of `sqlite_value`, as
 * SQLite's column affinities store them): 'k' 'i' 'b' INTEGER; 'm' 'p' 'x'
 * NUMERIC (an integer where the number is whole); 's' 'd' 't' TEXT. */
static int page_value(Reader *r, Record *rec, char kind, char nullable) {
    int64_t value = 0;
    if (need(r, 1)) return -1;
    uint8_t b = *r->at;
    if (b == 0xc0) {
        r->at++;
        if (kind == 'b') return record_int(rec, 0);
        return nullable == '1' ? record_type(rec, 0) : damaged("a NULL in a NOT NULL column");
    }
    switch (kind) {
    case 'b':
        r->at++;
        if (b != 0xc2 && b != 0xc3) return damaged("a boolean expected");
        return record_int(rec, b == 0xc3);
    case 's': {
        const uint8_t *at = NULL;
        Py_ssize_t n = 0;
        if (read_str(r, &at, &n)) return -1;
        return record_text(rec, (const char *)at, n);
    }
    case 'd':
    case 't': {
        char iso_text[20];
        if (read_int(r, &value)) return -1;
        int n = write_iso(iso_text, value, kind == 't');
        return n < 0 ? -1 : record_text(rec, iso_text, n);
    }
    case 'm':
        if (read_int(r, &value)) return -1;
        if (value > (INT64_C(1) << 53) || value < -(INT64_C(1) << 53))
            return damaged("an amount beyond 2**53 hundredths");
        if (value % 100 == 0) return record_int(rec, value / 100);
        return record_real(rec, (double)value / 100.0);
    case 'k':
    case 'i':
    case 'p':
    case 'x': {
        if (b == 0xc2 || b == 0xc3) { r->at++; return record_int(rec, b == 0xc3); }
        double number;
        int got = read_float(r, &number);
        if (got) return got < 0 ? -1 : record_number(rec, number);
        if (is_text(b)) return damaged("a number expected");
        if (read_int(r, &value)) return -1;
        return record_int(rec, value);
    }
    default:
        PyErr_Format(PyExc_ValueError, "unknown kind %c", kind);
        return -1;
    }
}

/* The length of a record's header: its serial types and the varint of the
 * header's own length (sqlite3VdbeExec's OP_MakeRecord). */
static Py_ssize_t header_size(Py_ssize_t types) {
    Py_ssize_t n = types;
    uint8_t scratch[9];
    if (n <= 126) return n + 1;
    int width = sqlite_varint(scratch, (uint64_t)n);
    n += width;
    if (width < sqlite_varint(scratch, (uint64_t)n)) n++;
    return n;
}

/* Closes a table leaf page: its 8-byte header (flag 13, no free blocks, the
 * cell count, where the cells begin, no fragments). */
static void close_leaf(uint8_t *page, int cells, Py_ssize_t content) {
    page[0] = 0x0d;
    page[1] = page[2] = 0;
    page[3] = (uint8_t)(cells >> 8);
    page[4] = (uint8_t)cells;
    page[5] = (uint8_t)(content >> 8);
    page[6] = (uint8_t)content;
    page[7] = 0;
}

/* -- index entries ------------------------------------------------------------ */

#define MAX_INDEXES 8
#define MAX_KEY 8

/* The column positions of each index, (positions, ...) per index, checked. */
static int index_specs(PyObject *indexes, Py_ssize_t width, Py_ssize_t columns[][MAX_KEY],
                       Py_ssize_t *count, Py_ssize_t *n) {
    *n = PyTuple_GET_SIZE(indexes);
    if (*n > MAX_INDEXES) {
        PyErr_SetString(PyExc_ValueError, "too many indexes");
        return -1;
    }
    for (Py_ssize_t i = 0; i < *n; i++) {
        PyObject *spec = PyTuple_GET_ITEM(indexes, i);
        if (!PyTuple_Check(spec) || PyTuple_GET_SIZE(spec) < 1 || PyTuple_GET_SIZE(spec) > MAX_KEY) {
            PyErr_SetString(PyExc_ValueError, "an index is a tuple of 1 to 8 column positions");
            return -1;
        }
        count[i] = PyTuple_GET_SIZE(spec);
        for (Py_ssize_t k = 0; k < count[i]; k++) {
            Py_ssize_t c = PyLong_AsSsize_t(PyTuple_GET_ITEM(spec, k));
            if (c == -1 && PyErr_Occurred()) return -1;
            if (c < 1 || c >= width) {
                PyErr_SetString(PyExc_ValueError, "an index column past the table's");
                return -1;
            }
            columns[i][k] = c;
        }
    }
    return 0;
}

/* A row's entry in an index (its key columns, then its rowid, as SQLite's
 * index records hold them), appended to `keys` as an index leaf cell: the
 * payload's length, then the payload. */
static int index_entry(Sink *keys, Record *rec, const Py_ssize_t *spans, const Py_ssize_t *columns,
                       Py_ssize_t count, int64_t id) {
    uint8_t head[9], rowid_body[8];
    int rowid_type;
    int rowid_width = int_serial(id, &rowid_type, rowid_body);
    Py_ssize_t types = 1, body = rowid_width; /* the rowid's type is one byte */
    for (Py_ssize_t k = 0; k < count; k++) {
        types += spans[4 * columns[k] + 1];
        body += spans[4 * columns[k] + 3];
    }
    Py_ssize_t header = header_size(types);
    Py_ssize_t payload = header + body;
    if (grow(keys, 9 + payload)) return -1;
    uint8_t *at = (uint8_t *)keys->data + keys->used;
    at += sqlite_varint(at, (uint64_t)payload);
    int width = sqlite_varint(head, (uint64_t)header);
    memcpy(at, head, width);
    at += width;
    for (Py_ssize_t k = 0; k < count; k++) {
        const Py_ssize_t *span = spans + 4 * columns[k];
        memcpy(at, rec->types.data + span[0], span[1]);
        at += span[1];
    }
    *at++ = (uint8_t)rowid_type;
    for (Py_ssize_t k = 0; k < count; k++) {
        const Py_ssize_t *span = spans + 4 * columns[k];
        memcpy(at, rec->body.data + span[2], span[3]);
        at += span[3];
    }
    memcpy(at, rowid_body, rowid_width);
    at += rowid_width;
    keys->used = at - (uint8_t *)keys->data;
    return 0;
}

/* A SQLite varint read from p (at most `left` bytes): its length, 0 if it
 * does not end within them. */
static int read_varint(const uint8_t *p, Py_ssize_t left, uint64_t *v) {
    uint64_t x = 0;
    for (int i = 0; i < 9 && i < left; i++) {
        if (i == 8) { *v = (x << 8) | p[8]; return 9; }
        x = (x << 7) | (p[i] & 0x7f);
        if (!(p[i] & 0x80)) { *v = x; return i + 1; }
    }
    return 0;
}

/* One field of a record: its serial type and where its body is. */
typedef struct {
    const uint8_t *types, *types_end, *body, *end;
} Fields;

static int fields_open(Fields *f, const uint8_t *payload, Py_ssize_t n) {
    uint64_t header;
    int width = read_varint(payload, n, &header);
    if (width == 0 || (Py_ssize_t)header > n || (Py_ssize_t)header < width) return -1;
    f->types = payload + width;
    f->types_end = payload + header;
    f->body = payload + header;
    f->end = payload + n;
    return 0;
}

static Py_ssize_t serial_size(uint64_t type) {
    static const Py_ssize_t sizes[12] = {0, 1, 2, 3, 4, 6, 8, 8, 0, 0, -1, -1};
    if (type < 12) return sizes[type];
    return (Py_ssize_t)((type - 12) / 2);
}

/* The next field: 1 with its type and bytes, 0 at the end, -1 if damaged. */
static int fields_next(Fields *f, uint64_t *type, const uint8_t **at, Py_ssize_t *n) {
    if (f->types >= f->types_end) return 0;
    int width = read_varint(f->types, f->types_end - f->types, type);
    Py_ssize_t size = serial_size(*type);
    if (width == 0 || size < 0 || f->end - f->body < size) return -1;
    f->types += width;
    *at = f->body;
    *n = size;
    f->body += size;
    return 1;
}

static int64_t field_int(uint64_t type, const uint8_t *at, Py_ssize_t n) {
    if (type == 8 || type == 9) return (int64_t)type - 8;
    int64_t v = (int8_t)at[0];
    for (Py_ssize_t i = 1; i < n; i++) v = (int64_t)((uint64_t)v << 8) | at[i];
    return v;
}

/* Compares the first `count` fields of two records as SQLite orders index
 * keys with the BINARY collation (NULL, then integers, then texts by their
 * bytes): -1, 0 or 1; 2 for what this does not compare (REAL, BLOB, a
 * damaged record), which makes the caller leave the index to SQLite. */
static int compare_records(const uint8_t *a, Py_ssize_t an, const uint8_t *b, Py_ssize_t bn,
                           Py_ssize_t count) {
    Fields fa, fb;
    if (fields_open(&fa, a, an) || fields_open(&fb, b, bn)) return 2;
    for (Py_ssize_t k = 0; k < count; k++) {
        uint64_t ta, tb;
        const uint8_t *pa, *pb;
        Py_ssize_t na, nb;
        int ga = fields_next(&fa, &ta, &pa, &na), gb = fields_next(&fb, &tb, &pb, &nb);
        if (ga < 0 || gb < 0) return 2;
        if (ga == 0 || gb == 0) return ga == gb ? 0 : (ga == 0 ? -1 : 1);
        if (ta == 7 || tb == 7 || (ta >= 12 && ta % 2 == 0) || (tb >= 12 && tb % 2 == 0))
            return 2;
        int ca = ta == 0 ? 0 : (ta < 12 ? 1 : 2), cb = tb == 0 ? 0 : (tb < 12 ? 1 : 2);
        if (ca != cb) return ca < cb ? -1 : 1;
        if (ca == 1) {
            int64_t va = field_int(ta, pa, na), vb = field_int(tb, pb, nb);
            if (va != vb) return va < vb ? -1 : 1;
        } else if (ca == 2) {
            int c = memcmp(pa, pb, na < nb ? na : nb);
            if (c) return c < 0 ? -1 : 1;
            if (na != nb) return na < nb ? -1 : 1;
        }
    }
    return 0;
}

/* Whether record b follows record a in an index's order: strictly in their
 * first `unique` fields (a UNIQUE index), or in all of them (key and rowid). */
static int follows(const uint8_t *a, Py_ssize_t an, const uint8_t *b, Py_ssize_t bn,
                   Py_ssize_t unique) {
    return compare_records(a, an, b, bn, unique ? unique : 1 << 20) == -1;
}

/* Whether the index cell at `b` of `keys` follows the one at `a` (`follows`). */
static int in_order(const Sink *keys, Py_ssize_t a, Py_ssize_t b, Py_ssize_t unique) {
    const uint8_t *base = (const uint8_t *)keys->data;
    uint64_t an = 0, bn = 0;
    int aw = read_varint(base + a, keys->used - a, &an);
    int bw = read_varint(base + b, keys->used - b, &bn);
    if (aw == 0 || bw == 0) return 0;
    return follows(base + a + aw, (Py_ssize_t)an, base + b + bw, (Py_ssize_t)bn, unique);
}

/* An index leaf page (flag 10) of the cells [from, to) of `cells` (each
 * cell's offset in `base`), written at `page`. */
static void index_leaf(uint8_t *page, Py_ssize_t page_size, const uint8_t *base,
                       const Py_ssize_t *offsets, Py_ssize_t from, Py_ssize_t to) {
    Py_ssize_t content = page_size;
    memset(page, 0, page_size);
    for (Py_ssize_t i = from; i < to; i++) {
        Py_ssize_t size = offsets[i + 1] - offsets[i];
        content -= size;
        memcpy(page + content, base + offsets[i], size);
        page[8 + 2 * (i - from)] = (uint8_t)(content >> 8);
        page[9 + 2 * (i - from)] = (uint8_t)content;
    }
    close_leaf(page, (int)(to - from), content);
    page[0] = 0x0a;
}

/* sqlite_index_leaves(entries, page_size, unique, finish) -> (ok, pages,
 * separators, rest): a run of index entries (cells, in the order the rows
 * came) as the leaf pages of the index's b-tree, if they are in the
 * index's order: each after the one before, strictly in their first
 * `unique` fields (a UNIQUE index), or in all. Each full leaf is
 * followed by a separator, an entry that goes to the level above; `rest`
 * are the entries after the last separator, not yet in a page: the caller
 * puts them before the next run's, and with `finish` they make the last
 * leaf (with the last separator taken from the leaf before, if it must). ok
 * is False, and nothing else returned, when an entry is out of order, or
 * is too long for a page, or is not one this compares: SQLite then builds
 * the index itself. */
static PyObject *sqlite_index_leaves(PyObject *self, PyObject *args) {
    Py_buffer entries;
    Py_ssize_t page_size, unique;
    int finish;
    PyObject *result = NULL, *separators = NULL;
    Sink out = {NULL, 0, 0};
    Py_ssize_t *offsets = NULL, n = 0;
    (void)self;
    if (!PyArg_ParseTuple(args, "y*nnp:sqlite_index_leaves", &entries, &page_size, &unique,
                          &finish))
        return NULL;
    const uint8_t *base = entries.buf;
    Py_ssize_t size = entries.len;
    if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) || unique < 0) {
        PyErr_SetString(PyExc_ValueError, "a page size of 512 to 65536 bytes, a power of two");
        goto done;
    }
    /* the entries' offsets, and their order */
    Py_ssize_t most = (page_size - 12) * 64 / 255 - 23; /* an index page's largest local payload */
    Py_ssize_t cap = 1024;
    if ((offsets = PyMem_Malloc(cap * sizeof *offsets)) == NULL) { PyErr_NoMemory(); goto done; }
    const uint8_t *before = NULL;
    Py_ssize_t before_n = 0;
    Py_ssize_t at = 0;
    int ok = 1;
    while (at < size) {
        uint64_t payload;
        int width = read_varint(base + at, size - at, &payload);
        if (width == 0 || (uint64_t)(size - at - width) < payload) { ok = 0; break; }
        if ((Py_ssize_t)payload > most) { ok = 0; break; }
        if (n + 2 > cap) {
            cap *= 2;
            Py_ssize_t *grown = PyMem_Realloc(offsets, cap * sizeof *offsets);
            if (grown == NULL) { PyErr_NoMemory(); goto done; }
            offsets = grown;
        }
        offsets[n++] = at;
        const uint8_t *record = base + at + width;
        if (before != NULL && !follows(before, before_n, record, (Py_ssize_t)payload, unique)) {
            ok = 0;
            break;
        }
        before = record;
        before_n = (Py_ssize_t)payload;
        at += width + (Py_ssize_t)payload;
    }
    if (!ok) {
        result = Py_BuildValue("(OOOO)", Py_False, Py_None, Py_None, Py_None);
        goto done;
    }
    offsets[n] = size;
    if ((separators = PyList_New(0)) == NULL) goto done;
    /* full leaves, each followed by a separator with an entry after it */
    Py_ssize_t from = 0;
    for (;;) {
        Py_ssize_t used = 8, i = from;
        while (i < n && used + 2 + (offsets[i + 1] - offsets[i]) <= page_size) {
            used += 2 + offsets[i + 1] - offsets[i];
            i++;
        }
        if (i >= n) break;  /* the rest fits in a page: not yet a full leaf */
        if (i + 1 >= n && !finish) break; /* its separator needs an entry after it */
        Py_ssize_t to = i, separator = i;
        if (i + 1 >= n) { /* the last entry: the leaf gives up its last for the separator */
            to = i - 1;
            separator = i - 1;
        }
        if (grow(&out, page_size)) goto done;
        index_leaf((uint8_t *)out.data + out.used, page_size, base, offsets, from, to);
        out.used += page_size;
        PyObject *cell = PyBytes_FromStringAndSize((const char *)base + offsets[separator],
                                                   offsets[separator + 1] - offsets[separator]);
        if (cell == NULL || PyList_Append(separators, cell)) { Py_XDECREF(cell); goto done; }
        Py_DECREF(cell);
        from = separator + 1;
    }
    if (finish && from < n) {
        if (grow(&out, page_size)) goto done;
        index_leaf((uint8_t *)out.data + out.used, page_size, base, offsets, from, n);
        out.used += page_size;
        from = n;
    }
    result = Py_BuildValue("(Oy#Oy#)", Py_True, out.data ? out.data : "", out.used, separators,
                           (const char *)base + offsets[from], size - offsets[from]);
done:
    Py_XDECREF(separators);
    PyMem_Free(offsets);
    PyMem_Free(out.data);
    PyBuffer_Release(&entries);
    return result;
}

/* Closes a table leaf page and records the largest rowid on it. */
static int end_leaf(uint8_t *page, int cells, Py_ssize_t content, int64_t last, PyObject *last_ids) {
    close_leaf(page, cells, content);
    PyObject *id = PyLong_FromLongLong(last);
    int failed = id == NULL || PyList_Append(last_ids, id);
    Py_XDECREF(id);
    return failed ? -1 : 0;
}

/* sqlite_pages(packed, kinds, nullable, page_size) -> (pages, last_ids,
 * first_id): the records (`nullable`: '1' for each column that may be NULL,
 * else '0') as the leaf pages of a SQLite table b-tree whose rowid is the
 * first column (an INTEGER PRIMARY KEY, so NULL in the record): `pages` the
 * pages one after another, `last_ids` the largest rowid on each, `first_id`
 * the smallest (None for no records). Leaf pages hold no page numbers, so
 * they can be written anywhere in the file; a record too long for a page
 * (it would need overflow pages) is refused, as are ids not ascending. */
static PyObject *sqlite_pages(PyObject *self, PyObject *args) {
    Py_buffer packed;
    const char *kinds, *nullable;
    Py_ssize_t width, nullable_width, page_size;
    const char *unique;
    Py_ssize_t unique_width;
    PyObject *indexes, *last_ids = NULL, *result = NULL, *entries = NULL;
    Sink out = {NULL, 0, 0};
    Sink keys[MAX_INDEXES];
    Py_ssize_t key_columns[MAX_INDEXES][MAX_KEY], key_count[MAX_INDEXES], n_indexes = 0;
    Py_ssize_t previous_entry[MAX_INDEXES]; /* where the index's last entry begins; -1 dropped */
    Py_ssize_t *spans = NULL; /* each column's serial type and body in the record */
    Record rec = {{NULL, 0, 0}, {NULL, 0, 0}};
    int64_t first = 0, previous = 0;
    (void)self;
    memset(keys, 0, sizeof keys);
    if (!PyArg_ParseTuple(args, "y*s#s#nO!s#:sqlite_pages", &packed, &kinds, &width, &nullable,
                          &nullable_width, &page_size, &PyTuple_Type, &indexes, &unique,
                          &unique_width))
        return NULL;
    Reader r = {packed.buf, (const uint8_t *)packed.buf + packed.len};
    if (page_size < 512 || page_size > 65536 || (page_size & (page_size - 1)) || width < 1 ||
        kinds[0] != 'k' || nullable_width != width) {
        PyErr_SetString(PyExc_ValueError, "a page size of 512 to 65536 bytes, a power of two, "
                                          "an id first, and a NULL flag for each column");
        goto done;
    }
    if (index_specs(indexes, width, key_columns, key_count, &n_indexes)) goto done;
    if (unique_width != n_indexes) {
        PyErr_SetString(PyExc_ValueError, "a UNIQUE flag for each index");
        goto done;
    }
    for (Py_ssize_t i = 0; i < MAX_INDEXES; i++) previous_entry[i] = i < n_indexes ? 0 : -1;
    if ((spans = PyMem_Malloc(4 * width * sizeof *spans)) == NULL) { PyErr_NoMemory(); goto done; }
    Py_ssize_t rows = record_count(&r);
    if (rows < 0 || (last_ids = PyList_New(0)) == NULL) goto done;
    /* The most a cell may hold without overflow pages (a table leaf's X). */
    Py_ssize_t most = page_size - 35;
    uint8_t *page = NULL;
    int cells = 0;
    Py_ssize_t content = page_size;
    for (Py_ssize_t row = 0; row < rows; row++) {
        int64_t id;
        if (next_record(&r, width)) goto done;
        int got = read_int(&r, &id);
        if (got < 0) goto done;
        if (got == 1) { damaged("a row without an id"); goto done; }
        if (row == 0) first = id;
        else if (id <= previous) { damaged("ids not ascending"); goto done; }
        rec.types.used = rec.body.used = 0;
        if (record_type(&rec, 0)) goto done; /* the INTEGER PRIMARY KEY: the rowid */
        for (Py_ssize_t c = 1; c < width; c++) {
            spans[4 * c] = rec.types.used;
            spans[4 * c + 2] = rec.body.used;
            if (page_value(&r, &rec, kinds[c], nullable[c])) goto done;
            spans[4 * c + 1] = rec.types.used - spans[4 * c];
            spans[4 * c + 3] = rec.body.used - spans[4 * c + 2];
        }
        for (Py_ssize_t i = 0; i < n_indexes; i++) {
            if (previous_entry[i] < 0) continue; /* out of the index's order: dropped */
            Py_ssize_t at = keys[i].used;
            if (index_entry(&keys[i], &rec, spans, key_columns[i], key_count[i], id)) goto done;
            if (at > 0 && !in_order(&keys[i], previous_entry[i], at,
                                    unique[i] == '1' ? key_count[i] : 0)) {
                previous_entry[i] = -1;
                keys[i].used = 0;
                continue;
            }
            previous_entry[i] = at;
        }
        Py_ssize_t header = header_size(rec.types.used);
        Py_ssize_t payload = header + rec.body.used;
        if (payload > most) {
            PyErr_Format(PyExc_ValueError, "a row of %zd bytes, more than a page holds", payload);
            goto done;
        }
        uint8_t head[18];
        int prefix = sqlite_varint(head, (uint64_t)payload);
        prefix += sqlite_varint(head + prefix, (uint64_t)id);
        Py_ssize_t cell = prefix + payload;
        if (page == NULL || 8 + 2 * (cells + 1) + cell > content) {
            if (page != NULL && end_leaf(page, cells, content, previous, last_ids)) goto done;
            if (grow(&out, page_size)) goto done;
            page = (uint8_t *)out.data + out.used;
            memset(page, 0, page_size);
            out.used += page_size;
            cells = 0;
            content = page_size;
        }
        content -= cell;
        uint8_t *at = page + content;
        memcpy(at, head, prefix);
        at += prefix;
        at += sqlite_varint(at, (uint64_t)header);
        memcpy(at, rec.types.data, rec.types.used);
        memcpy(at + rec.types.used, rec.body.data, rec.body.used);
        page[8 + 2 * cells] = (uint8_t)(content >> 8);
        page[9 + 2 * cells] = (uint8_t)content;
        cells++;
        previous = id;
    }
    if (finished(&r)) goto done;
    if (page != NULL && end_leaf(page, cells, content, previous, last_ids)) goto done;
    if ((entries = PyTuple_New(n_indexes)) == NULL) goto done;
    for (Py_ssize_t i = 0; i < n_indexes; i++) {
        PyObject *blob = previous_entry[i] < 0 ? Py_NewRef(Py_None)
            : PyBytes_FromStringAndSize(keys[i].data ? keys[i].data : "", keys[i].used);
        if (blob == NULL) goto done;
        PyTuple_SET_ITEM(entries, i, blob);
    }
    if (page != NULL)
        result = Py_BuildValue("(y#OLO)", out.data, out.used, last_ids, (long long)first, entries);
    else
        result = Py_BuildValue("(y#OOO)", "", (Py_ssize_t)0, last_ids, Py_None, entries);
done:
    Py_XDECREF(last_ids);
    Py_XDECREF(entries);
    PyMem_Free(spans);
    for (Py_ssize_t i = 0; i < MAX_INDEXES; i++) PyMem_Free(keys[i].data);
    PyMem_Free(out.data);
    PyMem_Free(rec.types.data);
    PyMem_Free(rec.body.data);
    PyBuffer_Release(&packed);
    return result;
}

/* -- CSV and JSON lines ----------------------------------------------------------- */

static int put(Sink *out, const char *bytes, Py_ssize_t n) {
    if (grow(out, n)) return -1;
    memcpy(out->data + out->used, bytes, n);
    out->used += n;
    return 0;
}

/* The decimal digits of `magnitude` written backwards from `end`; returns
 * where they begin. */
static inline char *backwards(char *end, uint64_t magnitude) {
    do {
        *--end = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    return end;
}

static int put_int(Sink *out, int64_t value) {
    char text[24], *end = text + sizeof text;
    uint64_t magnitude = value < 0 ? (uint64_t)0 - (uint64_t)value : (uint64_t)value;
    char *at = backwards(end, magnitude);
    if (value < 0) *--at = '-';
    return put(out, at, end - at);
}

/* Hundredths as exact two-decimal text: 1234 -> 12.34, -5 -> -0.05. */
static int put_hundredths(Sink *out, int64_t hundredths) {
    char text[32], *end = text + sizeof text;
    uint64_t magnitude = hundredths < 0 ? (uint64_t)0 - (uint64_t)hundredths : (uint64_t)hundredths;
    *--end = (char)('0' + magnitude % 10);
    *--end = (char)('0' + magnitude / 10 % 10);
    *--end = '.';
    char *at = backwards(end, magnitude / 100);
    if (hundredths < 0) *--at = '-';
    return put(out, at, text + sizeof text - at);
}

static int put_iso(Sink *out, int64_t value, int timestamp, int quoted) {
    if (grow(out, 22)) return -1;
    char *at = out->data + out->used;
    if (quoted) *at++ = '"';
    int n = write_iso(at, value, timestamp);
    if (n < 0) return -1;
    at += n;
    if (quoted) *at++ = '"';
    out->used = at - out->data;
    return 0;
}

/* A text as the csv module writes it (quoted where it holds a comma, a quote
 * or a line feed, quotes doubled), or as msgspec encodes it in JSON. */
static int put_text(Sink *out, const uint8_t *at, Py_ssize_t n, int json) {
    static const char hex[] = "0123456789abcdef";
    if (!json) {
        int quote = 0;
        for (Py_ssize_t i = 0; i < n && !quote; i++)
            quote = at[i] == ',' || at[i] == '"' || at[i] == '\n';
        if (!quote) return put(out, (const char *)at, n);
        if (grow(out, 2 * n + 2)) return -1;
        out->data[out->used++] = '"';
        for (Py_ssize_t i = 0; i < n; i++) {
            if (at[i] == '"') out->data[out->used++] = '"';
            out->data[out->used++] = (char)at[i];
        }
        out->data[out->used++] = '"';
        return 0;
    }
    if (grow(out, 6 * n + 2)) return -1;
    char *to = out->data + out->used;
    *to++ = '"';
    for (Py_ssize_t i = 0; i < n; i++) {
        uint8_t c = at[i];
        if (c >= 0x20 && c != '"' && c != '\\') { *to++ = (char)c; continue; }
        *to++ = '\\';
        switch (c) {
        case '"': *to++ = '"'; break;
        case '\\': *to++ = '\\'; break;
        case '\b': *to++ = 'b'; break;
        case '\t': *to++ = 't'; break;
        case '\n': *to++ = 'n'; break;
        case '\f': *to++ = 'f'; break;
        case '\r': *to++ = 'r'; break;
        default:
            *to++ = 'u'; *to++ = '0'; *to++ = '0';
            *to++ = hex[c >> 4]; *to++ = hex[c & 15];
        }
    }
    *to++ = '"';
    out->used = to - out->data;
    return 0;
}

/* One value of a column as CSV (json 0) or JSON (json 1) text, by kind:
 * integers as they are, texts quoted or escaped, booleans as 1 or 0 (true or
 * false), dates and timestamps in ISO form, 'm' 'p' 'x' with two decimals.
 * NULL: an empty field, or null. */
static int text_value(Reader *r, Sink *out, char kind, int json) {
    int64_t value = 0;
    if (need(r, 1)) return -1;
    uint8_t b = *r->at;
    if (b == 0xc0) {
        r->at++;
        return json ? put(out, "null", 4) : 0;
    }
    switch (kind) {
    case 's': {
        const uint8_t *at = NULL;
        Py_ssize_t n = 0;
        if (read_str(r, &at, &n)) return -1; /* not nil: read above */
        return put_text(out, at, n, json);
    }
    case 'b':
        r->at++;
        if (b != 0xc2 && b != 0xc3) return damaged("a boolean expected");
        if (json) return b == 0xc3 ? put(out, "true", 4) : put(out, "false", 5);
        return put(out, b == 0xc3 ? "1" : "0", 1);
    case 'x':
        if (read_units(r, &value)) return -1; /* not nil: read above */
        return put_hundredths(out, value);
    default:
        break;
    }
    if (read_int(r, &value) < 0) return -1;
    switch (kind) {
    case 'k':
    case 'i':
        return put_int(out, value);
    case 'd':
        return put_iso(out, value, 0, json);
    case 't':
        return put_iso(out, value, 1, json);
    case 'm':
        return put_hundredths(out, value);
    case 'p':
        if (put_int(out, value)) return -1;
        return put(out, ".00", 3);
    default:
        PyErr_Format(PyExc_ValueError, "unknown kind %c", kind);
        return -1;
    }
}

/* text(packed, kinds, json, before, end) -> bytes: each record as a line of
 * CSV or JSON: before[c] written before column c's value (the separators, or
 * JSON's keys), `end` after the last. */
static PyObject *text(PyObject *self, PyObject *args) {
    Py_buffer packed;
    const char *kinds, *end;
    Py_ssize_t width, end_size;
    int json;
    PyObject *before, *result = NULL;
    Sink out = {NULL, 0, 0};
    (void)self;
    if (!PyArg_ParseTuple(args, "y*s#pO!y#:text", &packed, &kinds, &width, &json, &PyTuple_Type,
                          &before, &end, &end_size))
        return NULL;
    Reader r = {packed.buf, (const uint8_t *)packed.buf + packed.len};
    Py_ssize_t rows = record_count(&r);
    if (rows < 0) goto done;
    if (PyTuple_GET_SIZE(before) != width) {
        PyErr_SetString(PyExc_ValueError, "one text before each column");
        goto done;
    }
    for (Py_ssize_t c = 0; c < width; c++) {
        if (!PyBytes_Check(PyTuple_GET_ITEM(before, c))) {
            PyErr_SetString(PyExc_TypeError, "the texts before the columns are bytes");
            goto done;
        }
    }
    if (grow(&out, packed.len * 2 + 64)) goto done;
    for (Py_ssize_t row = 0; row < rows; row++) {
        if (next_record(&r, width)) goto done;
        for (Py_ssize_t c = 0; c < width; c++) {
            PyObject *prefix = PyTuple_GET_ITEM(before, c);
            if (put(&out, PyBytes_AS_STRING(prefix), PyBytes_GET_SIZE(prefix))) goto done;
            if (text_value(&r, &out, kinds[c], json)) goto done;
        }
        if (put(&out, end, end_size)) goto done;
    }
    if (finished(&r)) goto done;
    result = PyBytes_FromStringAndSize(out.data ? out.data : "", out.used);
done:
    PyMem_Free(out.data);
    PyBuffer_Release(&packed);
    return result;
}

static PyMethodDef methods[] = {
    {"decode", decode, METH_VARARGS,
     "decode(packed, kinds) -> (rows, columns): records as Arrow buffers."},
    {"copy_binary", copy_binary, METH_VARARGS,
     "copy_binary(packed, kinds) -> bytes: records as PostgreSQL's binary COPY data."},
    {"text", text, METH_VARARGS,
     "text(packed, kinds, json, before, end) -> bytes: records as CSV or JSON lines."},
    {"sqlite_rows", sqlite_rows, METH_VARARGS,
     "sqlite_rows(packed, kinds) -> list of tuples: records as the SQLite export's values."},
    {"sqlite_pages", sqlite_pages, METH_VARARGS,
     "sqlite_pages(packed, kinds, nullable, page_size, indexes, unique) -> (pages, last_ids, "
     "first_id, entries): a SQLite table's leaf pages, and its index entries."},
    {"sqlite_index_leaves", sqlite_index_leaves, METH_VARARGS,
     "sqlite_index_leaves(entries, page_size, unique, finish) -> (ok, pages, separators, "
     "rest): a SQLite index's leaf pages."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_columns",
    "A part's msgpack records decoded into Arrow buffers.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__columns(void) { return PyModule_Create(&module); }
