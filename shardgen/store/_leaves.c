/* A key range's values read straight from the leaf pages of an LMDB
 * database, in one read transaction's snapshot.
 *
 * py-lmdb's cursors give a Python bytes object for every key and every value
 * they step over; an export reads millions of rows only to join the values
 * again. This module walks the B+tree itself, from the database's root (its
 * record in the main database, read through the transaction, so the
 * snapshot's), over a read-only mapping of the store file, and copies the
 * values of IDs first .. first + count - 1 into one bytes object: a msgpack
 * array header, then the values, as the export renders them. Every key must
 * be the next ID's (8 bytes, big-endian), as py-lmdb's reads are checked.
 *
 * The layout is LMDB's (lmdb.h's MDB_DATA_VERSION 1, unchanged since 0.9.0):
 * a page is a 16-byte header (its number, flags, lower and upper bounds of
 * its free space) and an array of 16-bit offsets of its nodes; a node is its
 * data size (or, in a branch page, its child's page number), flags and key
 * size, then the key and the data. A value too large for a leaf lives on
 * overflow pages, the node holding their first page number. Every number read
 * is checked against the page and the mapping; anything out of place raises
 * ValueError (a damaged store), a missing or unexpected key LookupError. The
 * pages a live read transaction sees are never written over, which is what
 * makes reading them through another mapping sound.
 *
 * `get` looks keys up one by one, each from the root: keys of any one size
 * (a table's 8-byte IDs, the `links` database's 9-byte keys), compared as
 * LMDB compares them (bytes); each value, or None where there is no such
 * key. Lookups land on pages far apart: touching them through a mapping
 * would map the pages around each (64 kB a page, counted in the process's
 * memory until dropped), so `get` reads each page it needs from the file
 * (`pread`, from the page cache) into a few pages' buffer instead.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

/* LMDB's page numbers and sizes are size_t: the layout below is the one of
 * 64-bit builds. Elsewhere this module is not built, and cursors read. */
#if SIZE_MAX < UINT64_MAX
#error "the leaf reader reads the page layout of 64-bit LMDB builds"
#endif

#define PAGEHDRSZ 16
#define NODESIZE 8
#define P_BRANCH 0x01
#define P_LEAF 0x02
#define P_OVERFLOW 0x04
#define F_BIGDATA 0x01
#define F_SUBDATA 0x02
#define F_DUPDATA 0x04
#define KEY_SIZE 8
#define MAX_DEPTH 32 /* LMDB's CURSOR_STACK */
#define NO_ROOT UINT64_MAX

#define SLOTS 64 /* pages `get` keeps read, by page number modulo SLOTS */

typedef struct {
    const uint8_t *map; /* the file mapped; NULL: its pages read from `fd` */
    size_t size;        /* the file's size */
    size_t psize;
    const char *problem; /* set with the first damage found */
    unsigned ksize;      /* the size of every key */
    int fd;
    uint8_t *cache;      /* SLOTS pages read from `fd` */
    uint64_t cached[SLOTS];
} Tree;

typedef struct {
    const uint8_t *page;
    unsigned index;
    unsigned keys;
} Level;

static uint16_t u16(const uint8_t *p) {
    uint16_t v;
    memcpy(&v, p, 2);
    return v;
}

static uint64_t u64(const uint8_t *p) {
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t big_endian(const uint8_t *p) {
    uint64_t v = 0;
    for (int i = 0; i < 8; i++) v = (v << 8) | p[i];
    return v;
}

/* Page `pgno` read from the file into its slot of the cache (a page read
 * before, still there, is not read again). A page read may replace any page
 * read before: nothing may hold a pointer into the cache across a read.
 * NULL if it cannot be read whole. */
static const uint8_t *read_page(Tree *t, uint64_t pgno) {
    size_t slot = (size_t)(pgno % SLOTS);
    uint8_t *buf = t->cache + slot * t->psize;
    if (t->cached[slot] != pgno) {
        t->cached[slot] = NO_ROOT;
        ssize_t got = pread(t->fd, buf, t->psize, (off_t)(pgno * t->psize));
        if (got != (ssize_t)t->psize) {
            t->problem = got < 0 ? "a page that cannot be read" : "a page beyond the end of the file";
            return NULL;
        }
        t->cached[slot] = pgno;
    }
    return buf;
}

/* Page `pgno`, which must be in the file, say it is page `pgno` and be
 * of `kind` (a flag); its number of nodes in *keys. NULL on damage. */
static const uint8_t *page_at(Tree *t, uint64_t pgno, unsigned kind, unsigned *keys) {
    if (pgno >= t->size / t->psize) {
        t->problem = "a page number beyond the end of the file";
        return NULL;
    }
    const uint8_t *page = t->map != NULL ? t->map + pgno * t->psize : read_page(t, pgno);
    if (page == NULL) return NULL;
    if (u64(page) != pgno) {
        t->problem = "a page that does not hold its own page number";
        return NULL;
    }
    unsigned flags = u16(page + 10);
    if (!(flags & kind)) {
        t->problem = "a page of the wrong kind";
        return NULL;
    }
    if (kind == P_OVERFLOW) return page;
    unsigned lower = u16(page + 12), upper = u16(page + 14);
    if (lower < PAGEHDRSZ || lower > upper || upper > t->psize || (lower & 1)) {
        t->problem = "a page whose free space is out of bounds";
        return NULL;
    }
    *keys = (lower - PAGEHDRSZ) / 2;
    return page;
}

/* Node `i` of `page`, its key size checked to be the tree's (a branch
 * page's first node has none: its key is below every key). NULL on damage. */
static const uint8_t *node_at(Tree *t, const uint8_t *page, unsigned i) {
    unsigned offset = u16(page + PAGEHDRSZ + 2 * i);
    if (offset < u16(page + 14) || offset + NODESIZE > t->psize) {
        t->problem = "a node out of its page";
        return NULL;
    }
    const uint8_t *node = page + offset;
    unsigned ksize = u16(node + 6);
    if (ksize == 0 && i == 0 && (u16(page + 10) & P_BRANCH)) return node;
    if (offset + NODESIZE + t->ksize > t->psize) {
        t->problem = "a node out of its page";
        return NULL;
    }
    if (ksize != t->ksize) {
        t->problem = "a key of another size than the database's";
        return NULL;
    }
    return node;
}

static uint64_t child_of(const uint8_t *node) {
    return (uint64_t)u16(node) | ((uint64_t)u16(node + 2) << 16) | ((uint64_t)u16(node + 4) << 32);
}

/* Descend from `pgno` to a leaf, pushing the branch pages passed; in each,
 * the last node whose key is at most `id` (the first node's key is below
 * every key). `leftmost` takes the first node instead. NULL on damage. */
static const uint8_t *descend(Tree *t, uint64_t pgno, uint64_t id, int leftmost, Level *stack,
                              int *depth, unsigned *keys) {
    for (;;) {
        const uint8_t *page = page_at(t, pgno, P_BRANCH | P_LEAF, keys);
        if (page == NULL) return NULL;
        if (u16(page + 10) & P_LEAF) return page;
        if (*depth >= MAX_DEPTH || *keys == 0) {
            t->problem = *keys ? "a tree deeper than LMDB makes one" : "an empty branch page";
            return NULL;
        }
        unsigned at = 0;
        if (!leftmost) {
            unsigned low = 1, high = *keys; /* the answer is in [low - 1, high) */
            while (low < high) {
                unsigned mid = low + (high - low) / 2;
                const uint8_t *node = node_at(t, page, mid);
                if (node == NULL) return NULL;
                if (big_endian(node + NODESIZE) <= id) low = mid + 1;
                else high = mid;
            }
            at = low - 1;
        }
        const uint8_t *node = node_at(t, page, at);
        if (node == NULL) return NULL;
        stack[*depth] = (Level){page, at, *keys};
        (*depth)++;
        pgno = child_of(node);
    }
}

/* Where the value of leaf node `node` of `page` is, checked against the
 * page and the file: its size in *size, and either its bytes in the page
 * (*data; *overflow NO_ROOT) or, too large for a leaf, on overflow pages
 * from *overflow on (*data NULL). 0 on damage. A page read from the file
 * (`get`) is read over by the overflow page's: nothing here holds a pointer
 * into it after that read. */
static int locate(Tree *t, const uint8_t *page, const uint8_t *node, size_t *size,
                  const uint8_t **data, uint64_t *overflow) {
    unsigned flags = u16(node + 4);
    size_t dsize = (size_t)u16(node) | ((size_t)u16(node + 2) << 16);
    const uint8_t *at = node + NODESIZE + t->ksize;
    size_t in_page = t->psize - (size_t)(at - page); /* the page is in the file */
    if (flags & (F_SUBDATA | F_DUPDATA)) {
        t->problem = "a node of a database that holds duplicates";
        return 0;
    }
    *size = dsize;
    *data = NULL;
    *overflow = NO_ROOT;
    if (!(flags & F_BIGDATA)) { /* an inline value ends in its own page */
        if (dsize > in_page) {
            t->problem = "a value out of its page";
            return 0;
        }
        *data = at;
        return 1;
    }
    if (in_page < 8) {
        t->problem = "an overflow page's number out of its page";
        return 0;
    }
    uint64_t first = u64(at);
    unsigned unused;
    const uint8_t *head = page_at(t, first, P_OVERFLOW, &unused);
    if (head == NULL) return 0;
    uint64_t pages = (uint64_t)u16(head + 12) | ((uint64_t)u16(head + 14) << 16);
    if (pages == 0 || pages > t->size / t->psize - first || dsize > pages * t->psize - PAGEHDRSZ) {
        t->problem = "overflow pages out of bounds";
        return 0;
    }
    *overflow = first;
    return 1;
}

/* The value of leaf node `node` of `page`, in the mapping, and its size in
 * *size; NULL on damage. */
static const uint8_t *value_of(Tree *t, const uint8_t *page, const uint8_t *node, size_t *size) {
    const uint8_t *data;
    uint64_t overflow;
    if (!locate(t, page, node, size, &data, &overflow)) return NULL;
    return data != NULL ? data : t->map + overflow * t->psize + PAGEHDRSZ;
}

static Py_ssize_t header_size(uint64_t count) {
    return count < 16 ? 1 : count < 65536 ? 3 : 5;
}

static void write_header(uint8_t *out, uint64_t count) {
    if (count < 16) {
        out[0] = (uint8_t)(0x90 | count);
    } else if (count < 65536) {
        out[0] = 0xdc;
        out[1] = (uint8_t)(count >> 8);
        out[2] = (uint8_t)count;
    } else {
        out[0] = 0xdd;
        for (int i = 0; i < 4; i++) out[1 + i] = (uint8_t)(count >> (24 - 8 * i));
    }
}

static PyObject *run(PyObject *Py_UNUSED(self), PyObject *args) {
    Py_buffer map;
    unsigned long long psize, root, first, count, batch;
    if (!PyArg_ParseTuple(args, "y*KKKKK", &map, &psize, &root, &first, &count, &batch))
        return NULL;
    PyObject *result = NULL, *ends = NULL, *joined = NULL;
    const uint8_t **values = NULL;
    size_t *sizes = NULL;
    Tree t = {map.buf, (size_t)map.len, (size_t)psize, NULL, KEY_SIZE, -1, NULL, {0}};
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) || batch == 0 ||
        count > (uint64_t)PY_SSIZE_T_MAX / 16 || count >= ((uint64_t)1 << 32) ||
        first > UINT64_MAX - count) {
        PyErr_SetString(PyExc_ValueError, "run(): a page size, range or batch out of bounds");
        goto done;
    }
    values = PyMem_Malloc(sizeof(*values) * (count ? count : 1));
    sizes = PyMem_Malloc(sizeof(*sizes) * (count ? count : 1));
    ends = PyList_New(0);
    if (values == NULL || sizes == NULL || ends == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    size_t total = (size_t)header_size(count);
    if (count > 0) {
        if (root == NO_ROOT) {
            PyErr_Format(PyExc_LookupError, "no row with id %llu: the table is empty", first);
            goto done;
        }
        Level stack[MAX_DEPTH];
        int depth = 0;
        unsigned keys = 0;
        const uint8_t *leaf = descend(&t, root, first, 0, stack, &depth, &keys);
        unsigned at = 0;
        if (leaf != NULL) {
            unsigned high = keys; /* the first node whose key is at least `first` */
            while (at < high) {
                unsigned mid = at + (high - at) / 2;
                const uint8_t *node = node_at(&t, leaf, mid);
                if (node == NULL) break;
                if (big_endian(node + NODESIZE) < first) at = mid + 1;
                else high = mid;
            }
        }
        for (uint64_t row = 0; row < count && t.problem == NULL && leaf != NULL; row++) {
            while (at >= keys) { /* the next leaf: up to a branch with a next node, down */
                while (depth > 0 && stack[depth - 1].index + 1 >= stack[depth - 1].keys) depth--;
                if (depth == 0) {
                    PyErr_Format(PyExc_LookupError,
                                 "no row with id %llu: the table ends before it",
                                 (unsigned long long)(first + row));
                    goto done;
                }
                Level *up = &stack[depth - 1];
                up->index++;
                const uint8_t *node = node_at(&t, up->page, up->index);
                if (node == NULL) break;
                leaf = descend(&t, child_of(node), 0, 1, stack, &depth, &keys);
                if (leaf == NULL) break;
                if (keys == 0) t.problem = "an empty leaf page";
                at = 0;
            }
            if (t.problem != NULL) break;
            const uint8_t *node = node_at(&t, leaf, at);
            if (node == NULL) break;
            uint64_t id = big_endian(node + NODESIZE);
            if (id != first + row) {
                PyErr_Format(PyExc_LookupError,
                             "the row with id %llu is missing, or a key is damaged (found id %llu)",
                             (unsigned long long)(first + row), (unsigned long long)id);
                goto done;
            }
            values[row] = value_of(&t, leaf, node, &sizes[row]);
            if (values[row] == NULL) break;
            total += sizes[row];
            at++;
        }
    }
    if (t.problem != NULL) {
        PyErr_Format(PyExc_ValueError, "the store's pages are damaged: %s", t.problem);
        goto done;
    }
    joined = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)total);
    if (joined == NULL) goto done;
    uint8_t *out = (uint8_t *)PyBytes_AS_STRING(joined);
    write_header(out, count);
    size_t offset = (size_t)header_size(count);
    for (uint64_t row = 0; row < count; row++) {
        memcpy(out + offset, values[row], sizes[row]);
        offset += sizes[row];
        if ((row + 1) % batch == 0 || row + 1 == count) {
            PyObject *end = PyLong_FromSize_t(offset);
            if (end == NULL || PyList_Append(ends, end) < 0) {
                Py_XDECREF(end);
                goto done;
            }
            Py_DECREF(end);
        }
    }
    result = PyTuple_Pack(2, joined, ends);
done:
    PyMem_Free(values);
    PyMem_Free(sizes);
    Py_XDECREF(joined);
    Py_XDECREF(ends);
    PyBuffer_Release(&map);
    return result;
}

/* The value of leaf node `node` of `page` (read from the file) as a new
 * bytes object; NULL on damage (t->problem set) or with a Python error. */
static PyObject *value_read(Tree *t, const uint8_t *page, const uint8_t *node) {
    size_t size;
    const uint8_t *data;
    uint64_t overflow;
    if (!locate(t, page, node, &size, &data, &overflow)) return NULL;
    if (data != NULL) return PyBytes_FromStringAndSize((const char *)data, (Py_ssize_t)size);
    PyObject *value = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)size);
    if (value == NULL) return NULL;
    ssize_t got = pread(t->fd, PyBytes_AS_STRING(value), size,
                        (off_t)(overflow * t->psize + PAGEHDRSZ));
    if (got != (ssize_t)size) {
        Py_DECREF(value);
        t->problem = "overflow pages that cannot be read";
        return NULL;
    }
    return value;
}

/* The leaf node whose key is `key` (t->ksize bytes), found from the root
 * `root`, and in *leaf its page; NULL if there is none, or on damage
 * (t->problem set). */
static const uint8_t *find(Tree *t, uint64_t root, const uint8_t *key, const uint8_t **leaf) {
    uint64_t pgno = root;
    for (int depth = 0;; depth++) {
        unsigned keys = 0;
        const uint8_t *page = page_at(t, pgno, P_BRANCH | P_LEAF, &keys);
        if (page == NULL) return NULL;
        int is_leaf = (u16(page + 10) & P_LEAF) != 0;
        if (!is_leaf && (depth >= MAX_DEPTH || keys == 0)) {
            t->problem = keys ? "a tree deeper than LMDB makes one" : "an empty branch page";
            return NULL;
        }
        /* The first node whose key is above `key` (a branch's first node is below every key). */
        unsigned low = is_leaf ? 0 : 1, high = keys;
        while (low < high) {
            unsigned mid = low + (high - low) / 2;
            const uint8_t *node = node_at(t, page, mid);
            if (node == NULL) return NULL;
            if (memcmp(node + NODESIZE, key, t->ksize) <= 0) low = mid + 1;
            else high = mid;
        }
        if (low == 0) return NULL; /* only in a leaf: every key is above `key` */
        const uint8_t *node = node_at(t, page, low - 1);
        if (node == NULL) return NULL;
        if (is_leaf) {
            *leaf = page;
            return memcmp(node + NODESIZE, key, t->ksize) == 0 ? node : NULL;
        }
        pgno = child_of(node);
    }
}

static PyObject *get(PyObject *Py_UNUSED(self), PyObject *args) {
    int fd;
    Py_buffer keys;
    unsigned long long size, psize, root;
    unsigned int ksize;
    if (!PyArg_ParseTuple(args, "iKKKy*I", &fd, &size, &psize, &root, &keys, &ksize)) return NULL;
    PyObject *found = NULL;
    Tree t = {NULL, (size_t)size, (size_t)psize, NULL, ksize, fd, NULL, {0}};
    if (psize < 512 || psize > 65536 || (psize & (psize - 1)) || ksize == 0 || ksize > 511 ||
        keys.len % ksize != 0) {
        PyErr_SetString(PyExc_ValueError, "get(): a page size or key size out of bounds");
        goto done;
    }
    t.cache = PyMem_Malloc(SLOTS * (size_t)psize);
    if (t.cache == NULL) {
        PyErr_NoMemory();
        goto done;
    }
    for (int i = 0; i < SLOTS; i++) t.cached[i] = NO_ROOT;
    Py_ssize_t count = keys.len / ksize;
    found = PyList_New(count);
    if (found == NULL) goto done;
    for (Py_ssize_t i = 0; i < count; i++) {
        const uint8_t *leaf = NULL;
        const uint8_t *node =
            root == NO_ROOT ? NULL : find(&t, root, (const uint8_t *)keys.buf + i * ksize, &leaf);
        PyObject *value = NULL;
        if (node != NULL) value = value_read(&t, leaf, node);
        else if (t.problem == NULL) value = Py_NewRef(Py_None);
        if (t.problem != NULL) {
            Py_XDECREF(value);
            PyErr_Format(PyExc_ValueError, "the store's pages are damaged: %s", t.problem);
            Py_CLEAR(found);
            goto done;
        }
        if (value == NULL) {
            Py_CLEAR(found);
            goto done;
        }
        PyList_SET_ITEM(found, i, value);
    }
done:
    PyMem_Free(t.cache);
    PyBuffer_Release(&keys);
    return found;
}

static PyMethodDef methods[] = {
    {"run", run, METH_VARARGS,
     "run(map, page_size, root, first, count, batch) -> (values, ends): the values of IDs "
     "first .. first + count - 1 as one msgpack array, and where each batch of them ends."},
    {"get", get, METH_VARARGS,
     "get(fd, file_size, page_size, root, keys, key_size) -> list: the value of each key "
     "(keys: key_size bytes each, joined), or None where the database has no such key; "
     "the pages read from the file `fd`."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_leaves",
    "A key range's values, or given keys' values, read straight from an LMDB database's "
    "pages.", -1, methods,
    NULL, NULL, NULL, NULL,
};

PyMODINIT_FUNC PyInit__leaves(void) { return PyModule_Create(&module); }
