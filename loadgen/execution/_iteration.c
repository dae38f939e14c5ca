/* The iteration runner in C: ScenarioRuntime.iteration's bookkeeping around the scenario's
 * own coroutine, without a coroutine frame of its own (loadgen/execution/fast_iteration.py).
 *
 * Why C: with the plain GET in C (net/_get.c), `ScenarioRuntime.iteration` was the largest
 * piece of Python left in an HTTP iteration: ~107 of ~280 bytecodes, and a coroutine frame
 * that every response resumes on its way to the scenario (benchmarks/bench_instructions.py).
 *
 * Runner(rt, recorder, next_index, m_lag, m_latency, current_vu, raised) is what
 * `rt.iteration` becomes; calling it as `rt.iteration(vu, intended_ns=None, index=None)`
 * gives an awaitable (a coroutine to asyncio) that does what the Python coroutine does:
 *   first step: vu.iteration += 1, vu.iteration_in_test (index, or next_index()),
 *     rt.started += 1, the current-VU context variable, t0, then the scenario's
 *     `vu.instance.iteration(vu)`, whose steps it forwards from then on;
 *   at its end: the ITER record (and the open model's lag and latency samples), the VU's
 *     byte counters reset, rt.completed += 1;
 *   an exception out of the scenario goes to `raised(vu, exc, t0, intended_ns)` (the
 *     runtime's except clauses in Python): it re-raises (a cancellation, after counting it
 *     interrupted) or returns, and the iteration then ends as above.
 * Objects are read through their slots (member descriptors found by the Runner's type's
 * setup), like net/_get.c; the runtime's counters through getattr/setattr.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../cshared.h"
#include <structmember.h>

static Slot v_iteration, v_in_test, v_instance, v_sample_tags, v_meter; /* VU */
static Slot m_sent, m_received;                                        /* Meter */
static Slot r_records;                                                 /* Recorder */
static PyObject *kind_iter, *kind_sample;                              /* ITER, SAMPLE */
static PyObject *s_started, *s_completed, *s_iteration, *s_throw, *zero, *one;
static int ready;

/* a new reference to obj's slot s (an AttributeError when it is unset or obj is another
 * type: the caller gave us something we were not set up for) */
static PyObject *
get_slot(PyObject *obj, Slot s, const char *name)
{
    PyObject *v = Py_IS_TYPE(obj, s.type) ? SLOT(obj, s) : NULL;
    if (v == NULL) {
        PyErr_Format(PyExc_AttributeError, "%s: not a %s, or unset", name, s.type->tp_name);
        return NULL;
    }
    return Py_NewRef(v);
}

/* rt.<name> += 1 */
static int
bump(PyObject *rt, PyObject *name)
{
    PyObject *n = PyObject_GetAttr(rt, name);
    PyObject *n1 = n == NULL ? NULL : PyNumber_Add(n, one);
    Py_XDECREF(n);
    int r = n1 == NULL ? -1 : PyObject_SetAttr(rt, name, n1);
    Py_XDECREF(n1);
    return r;
}

/* ---- the runner ----------------------------------------------------------------------- */

typedef struct {
    PyObject_HEAD
    PyObject *rt, *recorder, *next_index, *m_lag, *m_latency, *current_vu, *raised;
    vectorcallfunc vectorcall;
} Runner;

enum { INIT, RUN, DONE };

typedef struct {
    PyObject_HEAD
    int state;
    Runner *runner;
    PyObject *vu, *intended, *index, *coro;
    long long t0;
} Iter;

static PyTypeObject RunnerType, IterType;

static int
Runner_traverse(Runner *self, visitproc visit, void *arg)
{
    Py_VISIT(self->rt);
    Py_VISIT(self->recorder);
    Py_VISIT(self->next_index);
    Py_VISIT(self->m_lag);
    Py_VISIT(self->m_latency);
    Py_VISIT(self->current_vu);
    Py_VISIT(self->raised);
    return 0;
}

static int
Runner_clear(Runner *self)
{
    Py_CLEAR(self->rt);
    Py_CLEAR(self->recorder);
    Py_CLEAR(self->next_index);
    Py_CLEAR(self->m_lag);
    Py_CLEAR(self->m_latency);
    Py_CLEAR(self->current_vu);
    Py_CLEAR(self->raised);
    return 0;
}

static void
Runner_dealloc(Runner *self)
{
    PyObject_GC_UnTrack(self);
    Runner_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* runner(vu, intended_ns=None, index=None) -> the iteration's awaitable */
static PyObject *
Runner_call(Runner *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *vals[3] = {NULL, Py_None, Py_None};
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "iteration(vu, intended_ns=None, index=None)");
        return NULL;
    }
    for (Py_ssize_t i = 0; i < nargs; i++)
        vals[i] = args[i];
    Py_ssize_t nkw = kwnames == NULL ? 0 : PyTuple_GET_SIZE(kwnames);
    for (Py_ssize_t i = 0; i < nkw; i++) {
        const char *k = PyUnicode_AsUTF8(PyTuple_GET_ITEM(kwnames, i));
        if (k == NULL)
            return NULL;
        int at = strcmp(k, "intended_ns") == 0 ? 1 : strcmp(k, "index") == 0 ? 2 : -1;
        if (at < 0 || at < nargs) {
            PyErr_Format(PyExc_TypeError, "iteration() got an unexpected or repeated "
                                          "argument %s", k);
            return NULL;
        }
        vals[at] = args[nargs + i];
    }
    Iter *it = PyObject_GC_New(Iter, &IterType);
    if (it == NULL)
        return NULL;
    it->state = INIT;
    it->runner = (Runner *)Py_NewRef(self);
    it->vu = Py_NewRef(vals[0]);
    it->intended = Py_NewRef(vals[1]);
    it->index = Py_NewRef(vals[2]);
    it->coro = NULL;
    it->t0 = 0;
    PyObject_GC_Track(it);
    return (PyObject *)it;
}

static PyObject *
Runner_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *a[7];
    static char *kwlist[] = {"rt", "recorder", "next_index", "m_lag", "m_latency",
                             "current_vu", "raised", NULL};
    if (!ready) {
        PyErr_SetString(PyExc_RuntimeError, "setup() was not called");
        return NULL;
    }
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "OOOOOO!O:Runner", kwlist, &a[0], &a[1], &a[2],
                                     &a[3], &a[4], &PyContextVar_Type, &a[5], &a[6]))
        return NULL;
    if (!Py_IS_TYPE(a[1], r_records.type)) {
        PyErr_SetString(PyExc_TypeError, "recorder: not the Recorder set up");
        return NULL;
    }
    Runner *self = (Runner *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->rt = Py_NewRef(a[0]);
    self->recorder = Py_NewRef(a[1]);
    self->next_index = Py_NewRef(a[2]);
    self->m_lag = Py_NewRef(a[3]);
    self->m_latency = Py_NewRef(a[4]);
    self->current_vu = Py_NewRef(a[5]);
    self->raised = Py_NewRef(a[6]);
    self->vectorcall = (vectorcallfunc)Runner_call;
    return (PyObject *)self;
}

static PyTypeObject RunnerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "loadgen.execution._iteration.Runner",
    .tp_basicsize = sizeof(Runner),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "A scenario runtime's iteration runner: runner(vu, intended_ns, index).",
    .tp_new = Runner_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Runner, vectorcall),
    .tp_traverse = (traverseproc)Runner_traverse,
    .tp_clear = (inquiry)Runner_clear,
    .tp_dealloc = (destructor)Runner_dealloc,
};

/* ---- one iteration -------------------------------------------------------------------- */

static int
Iter_traverse(Iter *self, visitproc visit, void *arg)
{
    Py_VISIT(self->runner);
    Py_VISIT(self->vu);
    Py_VISIT(self->intended);
    Py_VISIT(self->index);
    Py_VISIT(self->coro);
    return 0;
}

static int
Iter_clear(Iter *self)
{
    Py_CLEAR(self->runner);
    Py_CLEAR(self->vu);
    Py_CLEAR(self->intended);
    Py_CLEAR(self->index);
    Py_CLEAR(self->coro);
    return 0;
}

static void
Iter_dealloc(Iter *self)
{
    PyObject_GC_UnTrack(self);
    Iter_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static void
finished(Iter *self)
{
    self->state = DONE;
    Py_CLEAR(self->coro);
}

/* The first step's bookkeeping, then the scenario's coroutine (or what it awaits on). */
static int
begin(Iter *self)
{
    Runner *r = self->runner;
    PyObject *vu = self->vu;
    PyObject *n = get_slot(vu, v_iteration, "vu.iteration");
    if (n == NULL || slot_put(vu, v_iteration, PyNumber_Add(n, one)) < 0) {
        Py_XDECREF(n);
        return -1;
    }
    Py_DECREF(n);
    PyObject *index = self->index != Py_None ? Py_NewRef(self->index)
                                             : PyObject_CallNoArgs(r->next_index);
    if (slot_put(vu, v_in_test, index) < 0 || bump(r->rt, s_started) < 0)
        return -1;
    PyObject *current = NULL;
    if (PyContextVar_Get(r->current_vu, Py_None, &current) < 0)
        return -1;
    int same = current == vu;
    Py_DECREF(current);
    if (!same) { /* a looping VU's task has it set from its first iteration on */
        PyObject *token = PyContextVar_Set(r->current_vu, vu);
        if (token == NULL)
            return -1;
        Py_DECREF(token);
    }
    self->t0 = now_ns();
    return 0;
}

/* The scenario's awaitable, as `await vu.instance.iteration(vu)` gets it; NULL and an
 * exception (which the iteration's except clauses then see, as in Python) otherwise. */
static PyObject *
scenario_awaitable(Iter *self)
{
    PyObject *inst = get_slot(self->vu, v_instance, "vu.instance");
    if (inst == NULL)
        return NULL;
    PyObject *args[2] = {inst, self->vu};
    PyObject *aw = PyObject_VectorcallMethod(s_iteration, args,
                                             2 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    Py_DECREF(inst);
    if (aw == NULL || PyCoro_CheckExact(aw))
        return aw;
    PyAsyncMethods *am = Py_TYPE(aw)->tp_as_async;
    PyObject *it = NULL;
    if (am != NULL && am->am_await != NULL)
        it = am->am_await(aw);
    else
        PyErr_Format(PyExc_TypeError, "object %.100s can't be used in 'await' expression",
                     Py_TYPE(aw)->tp_name);
    Py_DECREF(aw);
    return it;
}

/* (kind, t, a, value, b[, c]): a record tuple, as the Python twin's literal builds it */
static PyObject *
record(PyObject *kind, long long t, PyObject *a, double value, PyObject *b, PyObject *c)
{
    PyObject *tup = PyTuple_New(c == NULL ? 5 : 6);
    if (tup == NULL)
        return NULL;
    PyObject *t_obj = PyLong_FromLongLong(t), *v = PyFloat_FromDouble(value);
    if (t_obj == NULL || v == NULL) {
        Py_XDECREF(t_obj);
        Py_XDECREF(v);
        Py_DECREF(tup);
        return NULL;
    }
    PyTuple_SET_ITEM(tup, 0, Py_NewRef(kind));
    PyTuple_SET_ITEM(tup, 1, t_obj);
    PyTuple_SET_ITEM(tup, 2, Py_NewRef(a));
    PyTuple_SET_ITEM(tup, 3, v);
    PyTuple_SET_ITEM(tup, 4, Py_NewRef(b));
    if (c != NULL)
        PyTuple_SET_ITEM(tup, 5, Py_NewRef(c));
    return tup;
}

/* The iteration's end: its records, the VU's byte counters, rt.completed. */
static int
end(Iter *self)
{
    Runner *r = self->runner;
    long long t0 = self->t0, t1 = now_ns();
    PyObject *tags = get_slot(self->vu, v_sample_tags, "vu.sample_tags");
    PyObject *meter = tags == NULL ? NULL : get_slot(self->vu, v_meter, "vu.meter");
    PyObject *records = meter == NULL ? NULL : get_slot(r->recorder, r_records, "records");
    PyObject *sent = NULL, *received = NULL, *rec = NULL;
    int ret = -1;
    if (records == NULL || !PyList_CheckExact(records)
        || (sent = get_slot(meter, m_sent, "meter.bytes_sent")) == NULL
        || (received = get_slot(meter, m_received, "meter.bytes_received")) == NULL)
        goto out;
    rec = record(kind_iter, t1, tags, (double)(t1 - t0) / 1e6, sent, received);
    if (rec == NULL || PyList_Append(records, rec) < 0
        || slot_put(meter, m_sent, Py_NewRef(zero)) < 0
        || slot_put(meter, m_received, Py_NewRef(zero)) < 0)
        goto out;
    if (self->intended != Py_None) {
        long long intended = as_int64(self->intended);
        if (intended == -1 && PyErr_Occurred())
            goto out;
        Py_CLEAR(rec);
        rec = record(kind_sample, t0, r->m_lag, (double)(t0 - intended) / 1e6, tags, NULL);
        if (rec == NULL || PyList_Append(records, rec) < 0)
            goto out;
        Py_CLEAR(rec);
        rec = record(kind_sample, t1, r->m_latency, (double)(t1 - intended) / 1e6, tags,
                     NULL);
        if (rec == NULL || PyList_Append(records, rec) < 0)
            goto out;
    }
    ret = bump(r->rt, s_completed);
out:
    Py_XDECREF(tags);
    Py_XDECREF(meter);
    Py_XDECREF(records);
    Py_XDECREF(sent);
    Py_XDECREF(received);
    Py_XDECREF(rec);
    return ret;
}

/* An exception out of the scenario (pending): the runtime's except clauses decide.
 * 0: the iteration still ends (counted); -1: it goes on up (the exception set). */
static int
raised(Iter *self)
{
    PyObject *ev = take_exception();
    if (ev == NULL)
        return -1;
    PyObject *t0 = PyLong_FromLongLong(self->t0);
    PyObject *r = NULL;
    if (t0 != NULL) {
        PyObject *args[4] = {self->vu, ev, t0, self->intended};
        r = PyObject_Vectorcall(self->runner->raised, args, 4, NULL);
        Py_DECREF(t0);
    }
    Py_DECREF(ev);
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* the iteration's last step: its end, or the exception that leaves it */
static PySendResult
conclude(Iter *self, int failed, PyObject **result)
{
    if ((failed && raised(self) < 0) || end(self) < 0) {
        finished(self);
        *result = NULL;
        return PYGEN_ERROR;
    }
    finished(self);
    *result = Py_NewRef(Py_None);
    return PYGEN_RETURN;
}

static PySendResult
Iter_am_send(Iter *self, PyObject *arg, PyObject **result)
{
    if (self->state == INIT) {
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started "
                                             "coroutine");
            finished(self);
            *result = NULL;
            return PYGEN_ERROR;
        }
        if (begin(self) < 0) {
            finished(self);
            *result = NULL;
            return PYGEN_ERROR;
        }
        self->state = RUN;
        self->coro = scenario_awaitable(self);
        if (self->coro == NULL)
            return conclude(self, 1, result);
    }
    if (self->state != RUN) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        *result = NULL;
        return PYGEN_ERROR;
    }
    PySendResult r = PyIter_Send(self->coro, arg, result);
    if (r == PYGEN_NEXT)
        return r;
    if (r == PYGEN_RETURN)
        Py_DECREF(*result);
    return conclude(self, r == PYGEN_ERROR, result);
}


static PyObject *
Iter_iternext(Iter *self)
{
    PyObject *result = NULL;
    PySendResult r = Iter_am_send(self, Py_None, &result); /* before `result` is read */
    return as_iterator_step(r, result);
}

static PyObject *
Iter_send(Iter *self, PyObject *arg)
{
    PyObject *result = NULL;
    PySendResult r = Iter_am_send(self, arg, &result); /* before `result` is read */
    return as_iterator_step(r, result);
}

static PyObject *
Iter_throw(Iter *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    if (self->state != RUN) { /* not started or over: the exception comes straight out */
        finished(self);
        raise_thrown(args, nargs);
        return NULL;
    }
    PyObject *fwd[4] = {self->coro, args[0], nargs > 1 ? args[1] : NULL,
                        nargs > 2 ? args[2] : NULL};
    PyObject *y = PyObject_VectorcallMethod(s_throw, fwd,
                                            (nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (y != NULL)
        return y; /* the scenario caught it and awaits something else */
    int failed = !PyErr_ExceptionMatches(PyExc_StopIteration);
    if (!failed)
        PyErr_Clear(); /* the scenario caught it and returned */
    PyObject *result;
    if (conclude(self, failed, &result) == PYGEN_RETURN) {
        Py_DECREF(result);
        PyErr_SetNone(PyExc_StopIteration);
    }
    return NULL;
}

static PyObject *
Iter_close(Iter *self, PyObject *unused)
{
    (void)unused;
    PyObject *coro = self->state == RUN ? Py_NewRef(self->coro) : NULL;
    finished(self);
    if (coro == NULL)
        Py_RETURN_NONE;
    PyObject *r = PyObject_CallMethod(coro, "close", NULL);
    Py_DECREF(coro);
    return r;
}

static PyObject *
Iter_await(Iter *self)
{
    return Py_NewRef(self);
}

static PyMethodDef Iter_methods[] = {
    {"send", (PyCFunction)Iter_send, METH_O, "send(value): resume; StopIteration at the end."},
    {"throw", (PyCFunction)(void (*)(void))Iter_throw, METH_FASTCALL,
     "throw(exc): into the scenario's coroutine; the iteration's except clauses see the rest."},
    {"close", (PyCFunction)Iter_close, METH_NOARGS, "close(): stop without accounting."},
    {NULL},
};

static PyAsyncMethods Iter_async = {
    .am_await = (unaryfunc)Iter_await,
    .am_send = (sendfunc)Iter_am_send,
};

static PyTypeObject IterType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "loadgen.execution._iteration.Iteration",
    .tp_basicsize = sizeof(Iter),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One iteration in flight: awaitable, and a coroutine to asyncio.",
    .tp_as_async = &Iter_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Iter_iternext,
    .tp_methods = Iter_methods,
    .tp_traverse = (traverseproc)Iter_traverse,
    .tp_clear = (inquiry)Iter_clear,
    .tp_dealloc = (destructor)Iter_dealloc,
};

/* ---- the module ------------------------------------------------------------------------ */

/* setup(VU, Meter, Recorder, ITER, SAMPLE): the classes whose slots are read */
static PyObject *
setup(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError, "setup(VU, Meter, Recorder, ITER, SAMPLE)");
        return NULL;
    }
    ready = 0;
    if (find_slot(args[0], "iteration", 0, &v_iteration) < 0
        || find_slot(args[0], "iteration_in_test", 0, &v_in_test) < 0
        || find_slot(args[0], "instance", 0, &v_instance) < 0
        || find_slot(args[0], "sample_tags", 0, &v_sample_tags) < 0
        || find_slot(args[0], "meter", 0, &v_meter) < 0
        || find_slot(args[1], "bytes_sent", 0, &m_sent) < 0
        || find_slot(args[1], "bytes_received", 0, &m_received) < 0
        || find_slot(args[2], "records", 0, &r_records) < 0)
        return NULL;
    Py_XSETREF(kind_iter, Py_NewRef(args[3]));
    Py_XSETREF(kind_sample, Py_NewRef(args[4]));
    ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"setup", (PyCFunction)(void (*)(void))setup, METH_FASTCALL,
     "setup(VU, Meter, Recorder, ITER, SAMPLE): the classes whose slots are read."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_iteration",
    .m_doc = "The iteration runner's bookkeeping around a scenario's coroutine, in C.",
    .m_size = -1, .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__iteration(void)
{
    if (PyType_Ready(&RunnerType) < 0 || PyType_Ready(&IterType) < 0)
        return NULL;
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL;
    INTERN(s_started, "started")
    INTERN(s_completed, "completed")
    INTERN(s_iteration, "iteration")
    INTERN(s_throw, "throw")
#undef INTERN
    if ((zero = PyLong_FromLong(0)) == NULL || (one = PyLong_FromLong(1)) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&RunnerType);
    if (PyModule_AddObject(m, "Runner", (PyObject *)&RunnerType) < 0) {
        Py_DECREF(&RunnerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
