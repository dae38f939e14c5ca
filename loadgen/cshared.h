/* Shared by loadgen's C extensions (setup.py lists it in the depends of those that include it). */
#ifndef LOADGEN_CSHARED_H
#define LOADGEN_CSHARED_H

#include <Python.h>
#include <stdint.h>

/* PyLong_AsLongLong without its slow path for ints of two 30-bit digits or more (every
 * perf_counter_ns reading is one): AsLongLongAndOverflow's digit loop instead of a byte
 * array, ~10x fewer instructions; an int beyond int64 still raises OverflowError. */
static inline long long
as_int64(PyObject *v)
{
    int overflow = 0;
    long long q = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow) {
        PyErr_SetString(PyExc_OverflowError, "Python int too large to convert to C long long");
        return -1;
    }
    return q;
}

/* A named tuple of floats (net/types.Timings: a request's phases in ms), built as
 * tuple.__new__(type, values) would build it; NULL and an error on failure. */
static inline PyObject *
float_tuple(PyTypeObject *type, const double *values, Py_ssize_t n)
{
    PyObject *t = type->tp_alloc(type, n);
    if (t == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *f = PyFloat_FromDouble(values[i]);
        if (f == NULL) {
            Py_DECREF(t);
            return NULL;
        }
        PyTuple_SET_ITEM(t, i, f);
    }
    return t;
}

/* time.perf_counter_ns() (RealClock.now_ns), without a call into Python */
static inline int64_t
now_ns(void)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyTime_t t;
    (void)PyTime_PerfCounterRaw(&t);
    return (int64_t)t;
#else
    return (int64_t)_PyTime_AsNanoseconds(_PyTime_GetPerfCounter());
#endif
}

#endif
