/* A batch's integer fields read straight from its msgpack records.
 *
 * Verify checks a batch of records (4,096) a column at a time: each integer
 * field becomes a numpy array. Made from the decoded records, that is a
 * Python attribute read per value, most of verify's time after decoding.
 * `int_fields` reads the same values from the batch's msgpack bytes (an
 * array of records, each an array of its fields in order) in one pass: for
 * each wanted field position, an int64 column and a byte per row saying the
 * value was nil. Booleans are 0 and 1, as numpy makes them. Anything else
 * where an integer is wanted (a string, a float, an integer beyond int64, a
 * record too short), and any byte out of place, gives None: the caller then
 * makes the columns from the decoded records, as before, and reports what
 * is amiss.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define MAX_FIELDS 64
#define MAX_DEPTH 32
#define NO_SLOT 0xff

typedef struct {
    const uint8_t *at;
    const uint8_t *end;
} Reader;

static int take(Reader *r, size_t n, const uint8_t **out) {
    if ((size_t)(r->end - r->at) < n) return 0;
    *out = r->at;
    r->at += n;
    return 1;
}

static uint64_t be(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = 0; i < n; i++) v = (v << 8) | p[i];
    return v;
}

/* The size of what follows a type byte that has a length of `n` bytes. */
static int length(Reader *r, int n, uint64_t *out) {
    const uint8_t *p;
    if (!take(r, (size_t)n, &p)) return 0;
    *out = be(p, n);
    return 1;
}

static int skip(Reader *r, int depth);

static int skip_items(Reader *r, uint64_t items, int depth) {
    for (uint64_t i = 0; i < items; i++)
        if (!skip(r, depth + 1)) return 0;
    return 1;
}

/* Step over one msgpack value; 0 if it is malformed or nested too deep. */
static int skip(Reader *r, int depth) {
    const uint8_t *p;
    uint64_t n;
    if (depth > MAX_DEPTH || !take(r, 1, &p)) return 0;
    uint8_t t = *p;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) return 1;
    if ((t & 0xf0) == 0x80) return skip_items(r, 2 * (uint64_t)(t & 0x0f), depth);
    if ((t & 0xf0) == 0x90) return skip_items(r, t & 0x0f, depth);
    if ((t & 0xe0) == 0xa0) return take(r, t & 0x1f, &p);
    switch (t) {
    case 0xc4: case 0xd9: return length(r, 1, &n) && take(r, n, &p);
    case 0xc5: case 0xda: return length(r, 2, &n) && take(r, n, &p);
    case 0xc6: case 0xdb: return length(r, 4, &n) && take(r, n, &p);
    case 0xc7: return length(r, 1, &n) && take(r, n + 1, &p);
    case 0xc8: return length(r, 2, &n) && take(r, n + 1, &p);
    case 0xc9: return length(r, 4, &n) && take(r, n + 1, &p);
    case 0xca: return take(r, 4, &p);
    case 0xcb: return take(r, 8, &p);
    case 0xcc: case 0xd0: return take(r, 1, &p);
    case 0xcd: case 0xd1: return take(r, 2, &p);
    case 0xce: case 0xd2: return take(r, 4, &p);
    case 0xcf: case 0xd3: return take(r, 8, &p);
    case 0xd4: return take(r, 2, &p);
    case 0xd5: return take(r, 3, &p);
    case 0xd6: return take(r, 5, &p);
    case 0xd7: return take(r, 9, &p);
    case 0xd8: return take(r, 17, &p);
    case 0xdc: return length(r, 2, &n) && skip_items(r, n, depth);
    case 0xdd: return length(r, 4, &n) && skip_items(r, n, depth);
    case 0xde: return length(r, 2, &n) && skip_items(r, 2 * n, depth);
    case 0xdf: return length(r, 4, &n) && skip_items(r, 2 * n, depth);
    default: return 0; /* 0xc1: never used */
    }
}

/* An array's header: its item count. */
static int array_of(Reader *r, uint64_t *items) {
    const uint8_t *p;
    if (!take(r, 1, &p)) return 0;
    if ((*p & 0xf0) == 0x90) {
        *items = *p & 0x0f;
        return 1;
    }
    if (*p == 0xdc) return length(r, 2, items);
    if (*p == 0xdd) return length(r, 4, items);
    return 0;
}

/* An integer, a boolean (0, 1) or nil (*null); 0 for anything else, or an
 * integer int64 cannot hold. */
static int integer(Reader *r, int64_t *value, uint8_t *null) {
    const uint8_t *p;
    if (!take(r, 1, &p)) return 0;
    uint8_t t = *p;
    *null = 0;
    if (t <= 0x7f) { *value = t; return 1; }
    if (t >= 0xe0) { *value = (int8_t)t; return 1; }
    if (t == 0xc0) { *value = 0; *null = 1; return 1; }
    if (t == 0xc2 || t == 0xc3) { *value = t == 0xc3; return 1; }
    int n = t == 0xcc || t == 0xd0 ? 1 : t == 0xcd || t == 0xd1 ? 2
          : t == 0xce || t == 0xd2 ? 4 : t == 0xcf || t == 0xd3 ? 8 : 0;
    if (n == 0 || !take(r, (size_t)n, &p)) return 0;
    uint64_t raw = be(p, n);
    if (t >= 0xcc && t <= 0xcf) { /* unsigned */
        if (raw > (uint64_t)INT64_MAX) return 0;
        *value = (int64_t)raw;
    } else if (n == 1) {
        *value = (int8_t)raw;
    } else if (n == 2) {
        *value = (int16_t)raw;
    } else if (n == 4) {
        *value = (int32_t)raw;
    } else {
        *value = (int64_t)raw;
    }
    return 1;
}

static PyObject *int_fields(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer packed;
    PyObject *positions;
    if (!PyArg_ParseTuple(args, "y*O!", &packed, &PyTuple_Type, &positions)) return NULL;
    PyObject *result = NULL, *values = NULL, *nulls = NULL;
    uint8_t slot_of[MAX_FIELDS];
    memset(slot_of, NO_SLOT, sizeof slot_of);
    Py_ssize_t wanted = PyTuple_GET_SIZE(positions), last = -1;
    if (wanted > MAX_FIELDS) {
        PyErr_SetString(PyExc_ValueError, "int_fields(): too many fields");
        goto done;
    }
    for (Py_ssize_t i = 0; i < wanted; i++) {
        Py_ssize_t at = PyLong_AsSsize_t(PyTuple_GET_ITEM(positions, i));
        if (at == -1 && PyErr_Occurred()) goto done;
        if (at < 0 || at >= MAX_FIELDS || slot_of[at] != NO_SLOT) {
            PyErr_SetString(PyExc_ValueError, "int_fields(): a field position out of bounds");
            goto done;
        }
        slot_of[at] = (uint8_t)i;
        if (at > last) last = at;
    }
    Reader r = {packed.buf, (const uint8_t *)packed.buf + packed.len};
    uint64_t count;
    if (!array_of(&r, &count) || count > (uint64_t)(r.end - r.at)) {
        result = Py_NewRef(Py_None);
        goto done;
    }
    values = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * wanted * 8));
    nulls = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(count * wanted));
    if (values == NULL || nulls == NULL) goto done;
    int64_t *column = (int64_t *)PyBytes_AS_STRING(values);
    uint8_t *null = (uint8_t *)PyBytes_AS_STRING(nulls);
    for (uint64_t row = 0; row < count; row++) {
        uint64_t fields;
        if (!array_of(&r, &fields) || (int64_t)fields <= last) goto fallback;
        for (uint64_t f = 0; f < fields; f++) {
            uint8_t slot = f < MAX_FIELDS ? slot_of[f] : NO_SLOT;
            if (slot == NO_SLOT) {
                if (!skip(&r, 0)) goto fallback;
            } else if (!integer(&r, &column[slot * count + row], &null[slot * count + row])) {
                goto fallback;
            }
        }
    }
    if (r.at != r.end) goto fallback;
    result = PyTuple_Pack(2, values, nulls);
    goto done;
fallback:
    result = Py_NewRef(Py_None);
done:
    Py_XDECREF(values);
    Py_XDECREF(nulls);
    PyBuffer_Release(&packed);
    return result;
}

static PyMethodDef methods[] = {
    {"int_fields", int_fields, METH_VARARGS,
     "int_fields(packed, positions) -> (values, nulls) or None: the integer fields at "
     "`positions` of a msgpack array of records, as int64 columns, one after another."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_fields",
    "A batch's integer fields read straight from its msgpack records.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__fields(void) { return PyModule_Create(&module); }
