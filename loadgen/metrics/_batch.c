/* A batch of hot-path records taken apart in one pass each (loadgen/metrics/batch.py).
 *
 * Why C: every record the hot path appends (an HTTP request, a check, an iteration's end)
 * is visited by ingest a few times per batch: split by kind, its tag set compared with the
 * first one's, its numbers turned into numpy columns. In Python those visits are a map, a
 * list.count and a zip plus one numpy fromiter per column (whose generic per-element path
 * dominates); they cost ~12,000 machine instructions per HTTP iteration, over a tenth of
 * the whole request path. Here each is one loop reading the tuples directly.
 *
 * split(records) -> (http, iters, samples, kinds)
 *   the records by kind (model.py: SAMPLE 0, HTTP 1, ITER 2) as three lists in record
 *   order, and every record's kind as bytes (its positions, when a batch mixes kinds).
 * same(records, i) -> bool
 *   whether field i is the same in every record (identity, else ==, as list.count).
 * fill(records, spec) -> bytearray
 *   spec: one character per leading field: 'd' float64 (None -> NaN, as numpy converts
 *   it), 'q' int64, 'o' the object's id() as int64, '.' skipped. The result holds the
 *   chosen columns one after another (column-major), n values each, in spec order.
 * Errors (a record too short or not a tuple, a value that is not a number, a kind that is
 * none of the three) raise, naming the record.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../cshared.h"
#include <math.h>
#include <stdint.h>
#include <string.h>

#define MAX_FIELDS 32

/* The batch's items again after Python code ran (NULL and an error if it changed size). */
static PyObject **
refreshed(PyObject *seq, Py_ssize_t n)
{
    if (PySequence_Fast_GET_SIZE(seq) != n) {
        PyErr_SetString(PyExc_RuntimeError, "the batch changed while it was being read");
        return NULL;
    }
    return PySequence_Fast_ITEMS(seq);
}

static PyObject *
fill(PyObject *self, PyObject *args)
{
    PyObject *records;
    const char *spec;
    Py_ssize_t spec_len;
    if (!PyArg_ParseTuple(args, "Os#:fill", &records, &spec, &spec_len))
        return NULL;
    if (spec_len > MAX_FIELDS) {
        PyErr_Format(PyExc_ValueError, "spec longer than %d fields", MAX_FIELDS);
        return NULL;
    }
    Py_ssize_t field[MAX_FIELDS];
    char kind[MAX_FIELDS];
    Py_ssize_t k = 0;
    for (Py_ssize_t j = 0; j < spec_len; j++) {
        char c = spec[j];
        if (c == '.')
            continue;
        if (c != 'd' && c != 'q' && c != 'o') {
            PyErr_Format(PyExc_ValueError, "spec character '%c' is not 'd', 'q', 'o' or '.'",
                         c);
            return NULL;
        }
        field[k] = j;
        kind[k] = c;
        k++;
    }
    PyObject *seq = PySequence_Fast(records, "records must be a list or tuple");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    if (k > 0 && n > PY_SSIZE_T_MAX / 8 / k) {
        Py_DECREF(seq);
        return PyErr_NoMemory();
    }
    PyObject *out = PyByteArray_FromStringAndSize(NULL, n * k * 8);
    if (out == NULL) {
        Py_DECREF(seq);
        return NULL;
    }
    char *base = PyByteArray_AS_STRING(out);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = items[i];
        if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) < spec_len) {
            PyErr_Format(PyExc_ValueError,
                         "record %zd is not a tuple of at least %zd fields", i, spec_len);
            goto fail;
        }
        /* a value's __float__ or __index__ is Python code that could drop the record from
         * the batch or resize it: hold the record, and look at the batch again after */
        int ran_python = 0;
        Py_INCREF(rec);
        for (Py_ssize_t c = 0; c < k; c++) {
            PyObject *v = PyTuple_GET_ITEM(rec, field[c]);
            char *at = base + (c * n + i) * 8;
            if (kind[c] == 'd') {
                double d;
                if (PyFloat_CheckExact(v))
                    d = PyFloat_AS_DOUBLE(v);
                else if (v == Py_None)
                    d = NAN;
                else {
                    ran_python = 1;
                    d = PyFloat_AsDouble(v);
                    if (d == -1.0 && PyErr_Occurred())
                        goto bad_value;
                }
                memcpy(at, &d, 8);
            } else if (kind[c] == 'o') {
                int64_t w = (int64_t)(intptr_t)v;
                memcpy(at, &w, 8);
            } else {
                ran_python |= !PyLong_CheckExact(v);
                long long q = as_int64(v);
                if (q == -1 && PyErr_Occurred())
                    goto bad_value;
                int64_t w = (int64_t)q;
                memcpy(at, &w, 8);
            }
            continue;
        bad_value:
            {
                PyObject *type, *value, *tb;
                PyErr_Fetch(&type, &value, &tb);
                PyErr_Format(PyExc_TypeError, "record %zd, field %zd: %R is not a number (%S)",
                             i, field[c], v, value ? value : Py_None);
                Py_XDECREF(type);
                Py_XDECREF(value);
                Py_XDECREF(tb);
            }
            Py_DECREF(rec);
            goto fail;
        }
        Py_DECREF(rec);
        if (ran_python && (items = refreshed(seq, n)) == NULL)
            goto fail;
    }
    Py_DECREF(seq);
    return out;
fail:
    Py_DECREF(seq);
    Py_DECREF(out);
    return NULL;
}

static PyObject *
split(PyObject *self, PyObject *records)
{
    PyObject *seq = PySequence_Fast(records, "records must be a list or tuple");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *lists[3] = {PyList_New(0), PyList_New(0), PyList_New(0)};
    PyObject *kinds = PyBytes_FromStringAndSize(NULL, n);
    if (lists[0] == NULL || lists[1] == NULL || lists[2] == NULL || kinds == NULL)
        goto fail;
    char *k = PyBytes_AS_STRING(kinds);
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *rec = items[i];
        if (!PyTuple_Check(rec) || PyTuple_GET_SIZE(rec) < 1) {
            PyErr_Format(PyExc_ValueError, "record %zd is not a tuple starting with its kind",
                         i);
            goto fail;
        }
        /* an exact int only: no __index__ (Python code) runs while the batch is read */
        PyObject *kobj = PyTuple_GET_ITEM(rec, 0);
        long kind = PyLong_CheckExact(kobj) ? PyLong_AsLong(kobj) : -1;
        if (kind < 0 || kind > 2) {
            PyErr_Clear();
            PyErr_Format(PyExc_ValueError, "record %zd: kind %R is not 0, 1 or 2", i, kobj);
            goto fail;
        }
        k[i] = (char)kind;
        if (PyList_Append(lists[kind], rec) < 0)
            goto fail;
    }
    Py_DECREF(seq);
    /* (http, iters, samples, kinds); the tuple steals the references */
    return Py_BuildValue("(NNNN)", lists[1], lists[2], lists[0], kinds);
fail:
    Py_DECREF(seq);
    Py_XDECREF(lists[0]);
    Py_XDECREF(lists[1]);
    Py_XDECREF(lists[2]);
    Py_XDECREF(kinds);
    return NULL;
}

static PyObject *
same(PyObject *self, PyObject *args)
{
    PyObject *records;
    Py_ssize_t field;
    if (!PyArg_ParseTuple(args, "On:same", &records, &field))
        return NULL;
    PyObject *seq = PySequence_Fast(records, "records must be a list or tuple");
    if (seq == NULL)
        return NULL;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(seq);
    PyObject **items = PySequence_Fast_ITEMS(seq);
    PyObject *first = NULL;
    int result = 1;
    for (Py_ssize_t i = 0; i < n && result == 1; i++) {
        PyObject *rec = items[i];
        if (!PyTuple_Check(rec) || field < 0 || PyTuple_GET_SIZE(rec) <= field) {
            PyErr_Format(PyExc_ValueError, "record %zd has no field %zd", i, field);
            result = -1;
            break;
        }
        PyObject *v = PyTuple_GET_ITEM(rec, field);
        if (first == NULL) {
            first = v;
            Py_INCREF(first);
        } else if (v != first) {  /* __eq__ may be Python code: hold what it could drop */
            Py_INCREF(rec);
            result = PyObject_RichCompareBool(v, first, Py_EQ);
            Py_DECREF(rec);
            if (result >= 0 && (items = refreshed(seq, n)) == NULL)
                result = -1;
        }
    }
    Py_XDECREF(first);
    Py_DECREF(seq);
    if (result < 0)
        return NULL;
    return PyBool_FromLong(result);
}

static PyMethodDef methods[] = {
    {"split", split, METH_O,
     "split(records) -> (http, iters, samples, kinds): the records by kind, in order"},
    {"same", same, METH_VARARGS,
     "same(records, i) -> bool: field i is the same in every record"},
    {"fill", fill, METH_VARARGS,
     "fill(records, spec) -> bytearray: the spec's columns of the records, column-major"},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_batch",
    "A batch of hot-path records taken apart in one pass each (see loadgen.metrics.batch).",
    -1, methods,
};

PyMODINIT_FUNC
PyInit__batch(void)
{
    return PyModule_Create(&module);
}
