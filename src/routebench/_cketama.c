/*
 * routebench._cketama: the ketama strategy's key hash and scalar lookup in C.
 *
 * A libketama lookup is one MD5 of the key (its first four bytes, little
 * endian, are the key's point on a 32-bit circle) and a binary search for
 * the first continuum point at or after it. From Python that costs a call
 * into the md5 module, a bytes object, an int conversion and a bisect over
 * boxed ints; here it is one call. Optional: without a compiler, routebench
 * falls back to the pure-Python path, with the same results.
 *
 * MD5 follows RFC 1321; only the first word of the digest is needed.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

static const uint32_t K[64] = {
    0xd76aa478u, 0xe8c7b756u, 0x242070dbu, 0xc1bdceeeu,
    0xf57c0fafu, 0x4787c62au, 0xa8304613u, 0xfd469501u,
    0x698098d8u, 0x8b44f7afu, 0xffff5bb1u, 0x895cd7beu,
    0x6b901122u, 0xfd987193u, 0xa679438eu, 0x49b40821u,
    0xf61e2562u, 0xc040b340u, 0x265e5a51u, 0xe9b6c7aau,
    0xd62f105du, 0x02441453u, 0xd8a1e681u, 0xe7d3fbc8u,
    0x21e1cde6u, 0xc33707d6u, 0xf4d50d87u, 0x455a14edu,
    0xa9e3e905u, 0xfcefa3f8u, 0x676f02d9u, 0x8d2a4c8au,
    0xfffa3942u, 0x8771f681u, 0x6d9d6122u, 0xfde5380cu,
    0xa4beea44u, 0x4bdecfa9u, 0xf6bb4b60u, 0xbebfbc70u,
    0x289b7ec6u, 0xeaa127fau, 0xd4ef3085u, 0x04881d05u,
    0xd9d4d039u, 0xe6db99e5u, 0x1fa27cf8u, 0xc4ac5665u,
    0xf4292244u, 0x432aff97u, 0xab9423a7u, 0xfc93a039u,
    0x655b59c3u, 0x8f0ccc92u, 0xffeff47du, 0x85845dd1u,
    0x6fa87e4fu, 0xfe2ce6e0u, 0xa3014314u, 0x4e0811a1u,
    0xf7537e82u, 0xbd3af235u, 0x2ad7d2bbu, 0xeb86d391u,
};

static const uint8_t S[64] = {
    7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22,
    5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20, 5, 9,  14, 20,
    4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23,
    6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21,
};

#define ROTL(x, c) (((x) << (c)) | ((x) >> (32 - (c))))

static void md5_block(uint32_t st[4], const uint8_t *blk)
{
    uint32_t m[16];
    for (int i = 0; i < 16; i++)
        m[i] = (uint32_t)blk[4 * i] | ((uint32_t)blk[4 * i + 1] << 8) |
               ((uint32_t)blk[4 * i + 2] << 16) | ((uint32_t)blk[4 * i + 3] << 24);
    uint32_t a = st[0], b = st[1], c = st[2], d = st[3];
    for (int i = 0; i < 64; i++) {
        uint32_t f;
        int g;
        if (i < 16) {
            f = (b & c) | (~b & d);
            g = i;
        } else if (i < 32) {
            f = (d & b) | (~d & c);
            g = (5 * i + 1) & 15;
        } else if (i < 48) {
            f = b ^ c ^ d;
            g = (3 * i + 5) & 15;
        } else {
            f = c ^ (b | ~d);
            g = (7 * i) & 15;
        }
        f = f + a + K[i] + m[g];
        a = d;
        d = c;
        c = b;
        b = b + ROTL(f, S[i]);
    }
    st[0] += a;
    st[1] += b;
    st[2] += c;
    st[3] += d;
}

/* The first 32-bit word of MD5(data), i.e. libketama's ketama_hashi. */
static uint32_t ketama_hashi(const uint8_t *data, Py_ssize_t len)
{
    uint32_t st[4] = {0x67452301u, 0xefcdab89u, 0x98badcfeu, 0x10325476u};
    Py_ssize_t done = 0;
    while (len - done >= 64) {
        md5_block(st, data + done);
        done += 64;
    }
    uint8_t tail[128];
    Py_ssize_t rest = len - done;
    memcpy(tail, data + done, (size_t)rest);
    tail[rest] = 0x80;
    Py_ssize_t padded = (rest + 1 + 8 <= 64) ? 64 : 128;
    memset(tail + rest + 1, 0, (size_t)(padded - rest - 1));
    uint64_t bits = (uint64_t)len * 8u;
    for (int i = 0; i < 8; i++)
        tail[padded - 8 + i] = (uint8_t)(bits >> (8 * i));
    md5_block(st, tail);
    if (padded == 128)
        md5_block(st, tail + 64);
    return st[0];
}

typedef struct {
    PyObject_HEAD
    uint32_t *points;     /* sorted */
    Py_ssize_t npoints;
    PyObject *owners;     /* tuple: the owner name of each point */
    PyObject *fallback;   /* callable: key -> bytes, for keys that are not str/bytes */
} Continuum;

static void Continuum_dealloc(Continuum *self)
{
    PyMem_Free(self->points);
    Py_XDECREF(self->owners);
    Py_XDECREF(self->fallback);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static int Continuum_init(Continuum *self, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"points", "owners", "fallback", NULL};
    Py_buffer buf;
    PyObject *owners, *fallback;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "y*OO", kwlist, &buf, &owners, &fallback))
        return -1;
    PyObject *tup = PySequence_Tuple(owners);
    if (tup == NULL) {
        PyBuffer_Release(&buf);
        return -1;
    }
    Py_ssize_t n = buf.len / (Py_ssize_t)sizeof(uint32_t);
    if (buf.len % (Py_ssize_t)sizeof(uint32_t) != 0 || PyTuple_GET_SIZE(tup) != n || n < 1) {
        PyErr_SetString(PyExc_ValueError,
                        "points must be native uint32 bytes, one owner a point, at least one");
        Py_DECREF(tup);
        PyBuffer_Release(&buf);
        return -1;
    }
    uint32_t *pts = PyMem_Malloc((size_t)buf.len);
    if (pts == NULL) {
        Py_DECREF(tup);
        PyBuffer_Release(&buf);
        PyErr_NoMemory();
        return -1;
    }
    memcpy(pts, buf.buf, (size_t)buf.len);
    PyBuffer_Release(&buf);
    PyMem_Free(self->points);
    Py_XSETREF(self->owners, tup);
    Py_INCREF(fallback);
    Py_XSETREF(self->fallback, fallback);
    self->points = pts;
    self->npoints = n;
    return 0;
}

static PyObject *owner_of(Continuum *self, uint32_t h)
{
    Py_ssize_t lo = 0, hi = self->npoints;
    const uint32_t *p = self->points;
    while (lo < hi) {
        Py_ssize_t mid = (lo + hi) >> 1;
        if (p[mid] < h)
            lo = mid + 1;
        else
            hi = mid;
    }
    PyObject *o = PyTuple_GET_ITEM(self->owners, lo < self->npoints ? lo : 0);
    Py_INCREF(o);
    return o;
}

static PyObject *Continuum_lookup(Continuum *self, PyObject *key)
{
    if (self->points == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "Continuum not initialised");
        return NULL;
    }
    if (PyUnicode_Check(key)) {
        Py_ssize_t len;
        const char *s = PyUnicode_AsUTF8AndSize(key, &len);
        if (s != NULL)
            return owner_of(self, ketama_hashi((const uint8_t *)s, len));
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError))
            return NULL;
        /* not encodable (a lone surrogate): the fallback raises routebench's error */
        PyErr_Clear();
    }
    else if (PyBytes_Check(key))
        return owner_of(self, ketama_hashi((const uint8_t *)PyBytes_AS_STRING(key),
                                           PyBytes_GET_SIZE(key)));
    PyObject *b = PyObject_CallOneArg(self->fallback, key);
    if (b == NULL)
        return NULL;
    if (!PyBytes_Check(b)) {
        Py_DECREF(b);
        PyErr_SetString(PyExc_TypeError, "fallback must return bytes");
        return NULL;
    }
    PyObject *o = owner_of(self, ketama_hashi((const uint8_t *)PyBytes_AS_STRING(b),
                                              PyBytes_GET_SIZE(b)));
    Py_DECREF(b);
    return o;
}

static PyObject *Continuum_copy(Continuum *self, PyObject *unused)
{
    Py_INCREF(self); /* immutable once built: copies may share it */
    return (PyObject *)self;
}

static PyObject *Continuum_reduce(Continuum *self, PyObject *unused)
{
    return Py_BuildValue("(O(y#OO))", (PyObject *)Py_TYPE(self), (const char *)self->points,
                         self->npoints * (Py_ssize_t)sizeof(uint32_t), self->owners,
                         self->fallback);
}

static PyMethodDef Continuum_methods[] = {
    {"lookup", (PyCFunction)Continuum_lookup, METH_O, "The owner of one key (str or bytes)."},
    {"__copy__", (PyCFunction)Continuum_copy, METH_NOARGS, NULL},
    {"__deepcopy__", (PyCFunction)Continuum_copy, METH_O, NULL},
    {"__reduce__", (PyCFunction)Continuum_reduce, METH_NOARGS, NULL},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject ContinuumType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "routebench._cketama.Continuum",
    .tp_doc = "Continuum(points, owners, fallback): a ketama continuum with a C lookup.",
    .tp_basicsize = sizeof(Continuum),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = PyType_GenericNew,
    .tp_init = (initproc)Continuum_init,
    .tp_dealloc = (destructor)Continuum_dealloc,
    .tp_methods = Continuum_methods,
};

static PyObject *py_hashi(PyObject *mod, PyObject *arg)
{
    Py_buffer buf;
    if (PyObject_GetBuffer(arg, &buf, PyBUF_SIMPLE) < 0)
        return NULL;
    uint32_t h = ketama_hashi((const uint8_t *)buf.buf, buf.len);
    PyBuffer_Release(&buf);
    return PyLong_FromUnsignedLong(h);
}

static PyMethodDef module_methods[] = {
    {"hashi", py_hashi, METH_O, "libketama's key hash: the first MD5 word, little-endian."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_cketama", "C scalar lookup for the ketama strategy.", -1,
    module_methods,
};

PyMODINIT_FUNC PyInit__cketama(void)
{
    if (PyType_Ready(&ContinuumType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&ContinuumType);
    if (PyModule_AddObject(m, "Continuum", (PyObject *)&ContinuumType) < 0) {
        Py_DECREF(&ContinuumType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
