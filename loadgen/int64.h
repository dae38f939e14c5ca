/* Shared by loadgen's C extensions (setup.py lists it in each one's depends). */
#ifndef LOADGEN_INT64_H
#define LOADGEN_INT64_H

#include <Python.h>

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

#endif
