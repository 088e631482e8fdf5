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

#include "../_msgpack.h"

#define MAX_FIELDS 64
#define MAX_DEPTH 32
#define NO_SLOT 0xff

/* Step over `n` bytes. */
static int skip_bytes(Reader *r, uint64_t n) {
    if ((uint64_t)(r->end - r->at) < n) return damaged("it ends early");
    r->at += n;
    return 0;
}

/* A length of `width` bytes (1, 2 or 4), big-endian. */
static int length(Reader *r, int width, uint64_t *n) {
    if (need(r, width)) return -1;
    *n = width == 1 ? r->at[0] : width == 2 ? be16(r->at) : be32(r->at);
    r->at += width;
    return 0;
}

static int skip(Reader *r, int depth);

static int skip_items(Reader *r, uint64_t items, int depth) {
    for (uint64_t i = 0; i < items; i++)
        if (skip(r, depth + 1)) return -1;
    return 0;
}

/* Step over one msgpack value, of any kind. */
static int skip(Reader *r, int depth) {
    uint64_t n;
    if (depth > MAX_DEPTH) return damaged("nested too deep");
    if (need(r, 1)) return -1;
    uint8_t t = *r->at++;
    if (t <= 0x7f || t >= 0xe0 || t == 0xc0 || t == 0xc2 || t == 0xc3) return 0;
    if ((t & 0xf0) == 0x80) return skip_items(r, 2 * (uint64_t)(t & 0x0f), depth);
    if ((t & 0xf0) == 0x90) return skip_items(r, t & 0x0f, depth);
    if ((t & 0xe0) == 0xa0) return skip_bytes(r, t & 0x1f);
    switch (t) {
    case 0xc4: case 0xd9: return length(r, 1, &n) ? -1 : skip_bytes(r, n);
    case 0xc5: case 0xda: return length(r, 2, &n) ? -1 : skip_bytes(r, n);
    case 0xc6: case 0xdb: return length(r, 4, &n) ? -1 : skip_bytes(r, n);
    case 0xc7: return length(r, 1, &n) ? -1 : skip_bytes(r, n + 1);
    case 0xc8: return length(r, 2, &n) ? -1 : skip_bytes(r, n + 1);
    case 0xc9: return length(r, 4, &n) ? -1 : skip_bytes(r, n + 1);
    case 0xca: return skip_bytes(r, 4);
    case 0xcb: return skip_bytes(r, 8);
    case 0xcc: case 0xd0: return skip_bytes(r, 1);
    case 0xcd: case 0xd1: return skip_bytes(r, 2);
    case 0xce: case 0xd2: return skip_bytes(r, 4);
    case 0xcf: case 0xd3: return skip_bytes(r, 8);
    case 0xd4: return skip_bytes(r, 2);
    case 0xd5: return skip_bytes(r, 3);
    case 0xd6: return skip_bytes(r, 5);
    case 0xd7: return skip_bytes(r, 9);
    case 0xd8: return skip_bytes(r, 17);
    case 0xdc: return length(r, 2, &n) ? -1 : skip_items(r, n, depth);
    case 0xdd: return length(r, 4, &n) ? -1 : skip_items(r, n, depth);
    case 0xde: return length(r, 2, &n) ? -1 : skip_items(r, 2 * n, depth);
    case 0xdf: return length(r, 4, &n) ? -1 : skip_items(r, 2 * n, depth);
    default: return damaged("a byte no msgpack value begins with"); /* 0xc1 */
    }
}

/* An integer (`read_int`), a boolean (0, 1) or nil (*null). */
static int integer(Reader *r, int64_t *value, uint8_t *null) {
    if (need(r, 1)) return -1;
    if (*r->at == 0xc2 || *r->at == 0xc3) {
        *value = *r->at++ == 0xc3;
        *null = 0;
        return 0;
    }
    int nil = read_int(r, value);
    if (nil < 0) return -1;
    *null = (uint8_t)nil;
    if (nil) *value = 0;
    return 0;
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
    Py_ssize_t count = record_count(&r);
    if (count < 0) goto fallback;
    values = PyBytes_FromStringAndSize(NULL, count * wanted * 8);
    nulls = PyBytes_FromStringAndSize(NULL, count * wanted);
    if (values == NULL || nulls == NULL) goto done;
    int64_t *column = (int64_t *)PyBytes_AS_STRING(values);
    uint8_t *null = (uint8_t *)PyBytes_AS_STRING(nulls);
    for (Py_ssize_t row = 0; row < count; row++) {
        Py_ssize_t fields = array_length(&r);
        if (fields < 0 || fields <= last) goto fallback;
        for (Py_ssize_t f = 0; f < fields; f++) {
            uint8_t slot = f < MAX_FIELDS ? slot_of[f] : NO_SLOT;
            if (slot == NO_SLOT) {
                if (skip(&r, 0)) goto fallback;
            } else if (integer(&r, &column[slot * count + row], &null[slot * count + row])) {
                goto fallback;
            }
        }
    }
    if (r.at != r.end) goto fallback;
    result = PyTuple_Pack(2, values, nulls);
    goto done;
fallback: /* what the bytes hold is for the records to say */
    PyErr_Clear();
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
