/* Shared by loadgen's C extensions (setup.py lists it in the depends of those that include it). */
#ifndef LOADGEN_CSHARED_H
#define LOADGEN_CSHARED_H

#include <Python.h>
#include <stdint.h>
#include <structmember.h>

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

/* ---- an object's slot, read by its offset ------------------------------------------------
 * A __slots__ entry or a C member is a fixed offset in its instances: reading it there costs
 * what the specialised bytecode costs, where PyObject_GetAttr costs several times more. The
 * type is checked per object before (is_a); `subtypes` also takes instances of subclasses (a
 * C base whose subclass adds no slots). */
typedef struct {
    PyTypeObject *type;
    Py_ssize_t off;
    int subtypes;
} Slot;

#define SLOT(obj, s) (*(PyObject **)((char *)(obj) + (s).off))

static inline int
is_a(PyObject *obj, const Slot *s)
{
    return Py_IS_TYPE(obj, s->type) || (s->subtypes && PyObject_TypeCheck(obj, s->type));
}

/* Store a new reference in a slot (`value` stolen; NULL is an error already set). */
static inline int
slot_put(PyObject *obj, Slot s, PyObject *value)
{
    if (value == NULL)
        return -1;
    PyObject *old = SLOT(obj, s);
    SLOT(obj, s) = value;
    Py_XDECREF(old);
    return 0;
}

/* The slot `name` of `cls`: a writable object member (as __slots__ and C members are). */
static inline int
find_slot(PyObject *cls, const char *name, int subtypes, Slot *out)
{
    if (!PyType_Check(cls)) {
        PyErr_SetString(PyExc_TypeError, "slots of a class, please");
        return -1;
    }
    PyObject *descr = PyObject_GetAttrString(cls, name);
    if (descr == NULL)
        return -1;
    int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type);
    PyMemberDef *m = ok ? ((PyMemberDescrObject *)descr)->d_member : NULL;
    ok = ok && m->type == T_OBJECT_EX && !(m->flags & READONLY);
    Py_DECREF(descr);
    if (!ok) {
        PyErr_Format(PyExc_TypeError, "%s is not an object slot of %s", name,
                     ((PyTypeObject *)cls)->tp_name);
        return -1;
    }
    Py_INCREF(cls);
    out->type = (PyTypeObject *)cls;
    out->off = m->offset;
    out->subtypes = subtypes;
    return 0;
}

/* ---- awaitables written in C -------------------------------------------------------------
 * Their am_send does the work; send()/__next__ are am_send in the iterator protocol, where
 * the end is StopIteration(value). */
static inline PyObject *
as_iterator_step(PySendResult r, PyObject *result)
{
    if (r == PYGEN_NEXT)
        return result;
    if (r == PYGEN_RETURN) {
        if (result == Py_None)
            PyErr_SetNone(PyExc_StopIteration);
        else {
            PyObject *e = PyObject_CallOneArg(PyExc_StopIteration, result);
            if (e != NULL) {
                PyErr_SetObject(PyExc_StopIteration, e);
                Py_DECREF(e);
            }
        }
        Py_DECREF(result);
    }
    return NULL;
}

/* Raise what throw(typ[, val[, tb]]) was given, as a generator's throw would. */
static inline void
raise_thrown(PyObject *const *args, Py_ssize_t nargs)
{
    PyObject *typ = args[0], *val = nargs > 1 ? args[1] : Py_None;
    PyObject *tb = nargs > 2 ? args[2] : Py_None;
    PyObject *exc = NULL;
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return;
        }
        exc = Py_NewRef(typ);
    }
    else if (PyExceptionClass_Check(typ)) {
        if (val != Py_None && PyObject_TypeCheck(val, (PyTypeObject *)typ))
            exc = Py_NewRef(val);
        else if (val == Py_None)
            exc = PyObject_CallNoArgs(typ);
        else
            exc = PyObject_CallOneArg(typ, val);
        if (exc == NULL)
            return;
    }
    else {
        PyErr_Format(PyExc_TypeError, "exceptions must be classes or instances deriving from "
                                      "BaseException, not %s", Py_TYPE(typ)->tp_name);
        return;
    }
    if (tb != Py_None && PyException_SetTraceback(exc, tb) < 0) {
        Py_DECREF(exc);
        return;
    }
    PyObject *t = PyException_GetTraceback(exc);
    PyErr_Restore(Py_NewRef(Py_TYPE(exc)), exc, t);
}

/* The pending exception, taken out (a new reference, its traceback on it), to hand to
 * Python code that decides what it means; NULL (and a SystemError) if none was pending. */
static inline PyObject *
take_exception(void)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyErr_NormalizeException(&et, &ev, &etb);
    if (etb != NULL && ev != NULL)
        PyException_SetTraceback(ev, etb);
    Py_XDECREF(et);
    Py_XDECREF(etb);
    if (ev == NULL)
        PyErr_SetString(PyExc_SystemError, "no exception was pending");
    return ev;
}

#endif
