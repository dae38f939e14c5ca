/* vu.check() in C (loadgen/scripting/fast_check.py): k6's check(), one `checks` sample
 * per condition, without a Python frame of its own.
 *
 * Why C: with the plain GET and the iteration runner in C, the check was the largest piece
 * of Python left in an HTTP iteration (~76 of ~175 bytecodes; benchmarks/
 * bench_instructions.py). The conditions themselves stay Python, called from here.
 *
 * method(VU, py_check) -> a method descriptor for VU.check: called as
 * vu.check(value, checks, tags=None), it does what `py_check` (the Python twin,
 * VU.py_check) does when the call is the plain case: no tags of the call's own, a dict of
 * checks, and a VU whose `_check_to` is set (its runtime's recorder and `checks` metric,
 * and a real clock: see VU.__init__). Anything else is `py_check`'s. A condition that
 * raises an Exception fails its check and goes to `vu._check_raised(name, exc)` (the log);
 * a tag set not made yet comes from `vu._check_tagset(base, name, None)`.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../cshared.h"
#include <structmember.h>

static Slot v_sample_tags, v_check_tags, v_check_to; /* VU */
static Slot r_records;                                /* Recorder */
static PyObject *py_check, *kind_sample;
static PyObject *s_check_tagset, *s_check_raised, *f_one, *f_zero;


/* what the condition said: 1, 0 (it failed or raised an Exception, logged), -1 (raised
 * something else: it goes on up) */
static int
judge(PyObject *vu, PyObject *name, PyObject *cond, PyObject *value)
{
    PyObject *r = PyObject_CallOneArg(cond, value);
    int ok = r == NULL ? -1 : PyObject_IsTrue(r);
    Py_XDECREF(r);
    if (ok >= 0)
        return ok;
    if (!PyErr_ExceptionMatches(PyExc_Exception))
        return -1;
    PyObject *ev = take_exception();
    if (ev == NULL)
        return -1;
    PyObject *args[3] = {vu, name, ev};
    PyObject *logged = PyObject_VectorcallMethod(s_check_raised, args,
                                                 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(ev);
    if (logged == NULL)
        return -1;
    Py_DECREF(logged);
    return 0;
}

static PyObject *
check(PyObject *vu, PyObject *const *args, Py_ssize_t nargs, PyObject *kwnames)
{
    PyObject *value = nargs > 0 ? args[0] : NULL, *checks = nargs > 1 ? args[1] : NULL;
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    PyObject *to = Py_IS_TYPE(vu, v_check_to.type) ? SLOT(vu, v_check_to) : NULL;
    if (nargs != 2 || nkw != 0 || !PyDict_CheckExact(checks) || to == NULL
        || !PyTuple_CheckExact(to) || PyTuple_GET_SIZE(to) != 2) {
        /* the call's own tags, keywords, another mapping, a fake clock: the Python twin */
        PyObject *fwd[5];
        fwd[0] = vu;
        for (Py_ssize_t i = 0; i < nargs + nkw && i < 4; i++)
            fwd[i + 1] = args[i];
        if (nargs + nkw > 4) {
            PyErr_SetString(PyExc_TypeError, "check(value, checks, tags=None)");
            return NULL;
        }
        return PyObject_Vectorcall(py_check, fwd, nargs + 1, kwnames);
    }
    PyObject *recorder = PyTuple_GET_ITEM(to, 0), *metric = PyTuple_GET_ITEM(to, 1);
    PyObject *base = SLOT(vu, v_sample_tags), *mine = SLOT(vu, v_check_tags);
    PyObject *records = Py_IS_TYPE(recorder, r_records.type) ? SLOT(recorder, r_records) : NULL;
    if (base == NULL || mine == NULL || !PyDict_CheckExact(mine) || records == NULL
        || !PyList_CheckExact(records)) {
        PyErr_SetString(PyExc_AttributeError, "the VU's sample_tags/_check_tags/recorder");
        return NULL;
    }
    Py_INCREF(base);
    Py_INCREF(mine);
    Py_INCREF(records);
    Py_INCREF(checks);
    PyObject *now = PyLong_FromLongLong(now_ns()), *result = NULL;
    if (now == NULL)
        goto out;
    int all = 1;
    Py_ssize_t pos = 0, size = PyDict_GET_SIZE(checks);
    PyObject *name, *cond;
    while (PyDict_Next(checks, &pos, &name, &cond)) {
        Py_INCREF(name);
        Py_INCREF(cond);
        int ok = judge(vu, name, cond, value);
        PyObject *ts = NULL;
        if (ok >= 0) {
            all = all && ok;
            ts = PyDict_GetItemWithError(mine, name);
            if (ts != NULL)
                Py_INCREF(ts);
            else if (!PyErr_Occurred()) {
                PyObject *a[4] = {vu, base, name, Py_None};
                ts = PyObject_VectorcallMethod(s_check_tagset, a,
                                               4 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
            }
        }
        Py_DECREF(name);
        Py_DECREF(cond);
        if (ts == NULL)
            goto out;
        if (PyDict_GET_SIZE(checks) != size) {
            Py_DECREF(ts);
            PyErr_SetString(PyExc_RuntimeError, "dictionary changed size during iteration");
            goto out;
        }
        PyObject *rec = PyTuple_New(5);
        if (rec == NULL) {
            Py_DECREF(ts);
            goto out;
        }
        PyTuple_SET_ITEM(rec, 0, Py_NewRef(kind_sample));
        PyTuple_SET_ITEM(rec, 1, Py_NewRef(now));
        PyTuple_SET_ITEM(rec, 2, Py_NewRef(metric));
        PyTuple_SET_ITEM(rec, 3, Py_NewRef(ok ? f_one : f_zero));
        PyTuple_SET_ITEM(rec, 4, ts);
        int appended = PyList_Append(records, rec);
        Py_DECREF(rec);
        if (appended < 0)
            goto out;
    }
    result = Py_NewRef(all ? Py_True : Py_False);
out:
    Py_XDECREF(now);
    Py_DECREF(base);
    Py_DECREF(mine);
    Py_DECREF(records);
    Py_DECREF(checks);
    return result;
}

static PyMethodDef check_def = {
    "check", (PyCFunction)(void (*)(void))check, METH_FASTCALL | METH_KEYWORDS,
    "check(value, checks, tags=None) -> bool: k6's check(), one `checks` sample per "
    "condition (VU.py_check is the Python twin)."};

/* method(VU, Recorder, py_check, SAMPLE) -> the method descriptor for VU.check */
static PyObject *
method(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 4 || !PyType_Check(args[0]) || !PyType_Check(args[1])) {
        PyErr_SetString(PyExc_TypeError, "method(VU, Recorder, py_check, SAMPLE)");
        return NULL;
    }
    if (find_slot(args[0], "sample_tags", 0, &v_sample_tags) < 0
        || find_slot(args[0], "_check_tags", 0, &v_check_tags) < 0
        || find_slot(args[0], "_check_to", 0, &v_check_to) < 0
        || find_slot(args[1], "records", 0, &r_records) < 0)
        return NULL;
    Py_XSETREF(py_check, Py_NewRef(args[2]));
    Py_XSETREF(kind_sample, Py_NewRef(args[3]));
    return PyDescr_NewMethod((PyTypeObject *)args[0], &check_def);
}

static PyMethodDef module_methods[] = {
    {"method", (PyCFunction)(void (*)(void))method, METH_FASTCALL,
     "method(VU, Recorder, py_check, SAMPLE): the method descriptor for VU.check."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_check",
    .m_doc = "vu.check() in C: one `checks` sample per condition.",
    .m_size = -1, .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__check(void)
{
    if ((s_check_tagset = PyUnicode_InternFromString("_check_tagset")) == NULL
        || (s_check_raised = PyUnicode_InternFromString("_check_raised")) == NULL
        || (f_one = PyFloat_FromDouble(1.0)) == NULL
        || (f_zero = PyFloat_FromDouble(0.0)) == NULL)
        return NULL;
    return PyModule_Create(&module);
}
