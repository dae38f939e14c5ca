/* The per-message methods of a picows WebSocket connection, in C (loadgen/net/ws/core.py).
 *
 * Why C: a ping-pong message on picows cost loadgen ~25,800 machine instructions of user
 * space where a bare picows client awaiting a future per message costs ~15,000
 * (benchmarks/bench_ws.py --instructions). The difference was Python frames: the frame
 * callback, the send checks, and a coroutine per recv() whose only job is to await the
 * connection's waiter and count the message. Here:
 *
 * Core: a mixin with no fields of its own (FastConnection(Core, WSListener): picows'
 *   listener class keeps the instance layout), whose methods read and write the
 *   connection's __slots__ at the offsets `bind` found:
 *     on_ws_frame(transport, frame)  a whole text or binary frame: counted, decoded and
 *                                    handed to the waiting recv() or queued; any other
 *                                    frame (or text that is not UTF-8) goes to Python
 *     send_now(message)              a str sent at once unless anything blocks; others
 *                                    via the connection's Python `_write`
 *     recv_fast()                    a Recv: what `await session.recv()` awaits
 * Recv: an awaitable that behaves as the coroutine FastConnection.recv() does: returns a
 *   queued message, or yields the connection's waiter future (as `await fut` would) and
 *   returns the message it gets; counts it for the session; a cancellation that arrives
 *   after the message did puts the message back at the head of the queue. It has send,
 *   throw and close, so asyncio takes it for a coroutine (create_task, gather, wait_for).
 * SENT: a finished awaitable (what session.send() returns when it sent at once).
 *
 * Every state change and error decision the Python twin makes is made here the same way,
 * or handed back to the same Python method (tests/ws/test_ws_core.py runs both).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

enum {
    F_T, F_N_IN, F_N_OUT, F_PARTS, F_MSGS, F_WAITER, F_MAX_QUEUE, F_WRITE_PAUSED,
    F_CLOSE_CODE, F_SESSION, F_NOW, F_READING_PAUSED, F_CLOSED, F_LOOP, N_FIELDS
};

static const char *field_names[N_FIELDS] = {
    "t", "n_in", "n_out", "parts", "msgs", "waiter", "max_queue", "write_paused",
    "close_code", "session", "now", "reading_paused", "closed", "loop",
};

/* what bind() found: one connection class and its slot offsets */
static PyTypeObject *bound = NULL;
static Py_ssize_t off[N_FIELDS];
static PyObject *TEXT = NULL, *BINARY = NULL;

static PyObject *s_msg_type, *s_fin, *s_payload_size, *s_utf8, *s_bytes, *s_other_frame,
    *s_slow_frame, *s_done, *s_set_result, *s_append, *s_appendleft, *s_popleft, *s_pause,
    *s_close_sent, *s_disconnected, *s_send, *s_write, *s_create_future, *s_blocking,
    *s_result, *s_cancelled, *s_n_recv, *s_next_flush, *s_flush, *s_fail_recv, *s_taken;

/* -- slot access ---------------------------------------------------------------------- */

static inline PyObject *
get(PyObject *self, int i)
{
    PyObject *v = *(PyObject **)((char *)self + off[i]);
    if (v == NULL)
        PyErr_Format(PyExc_AttributeError, "'%s' object has no attribute '%s'",
                     Py_TYPE(self)->tp_name, field_names[i]);
    return v; /* borrowed */
}

static inline void
set(PyObject *self, int i, PyObject *v)
{
    Py_INCREF(v);
    Py_XSETREF(*(PyObject **)((char *)self + off[i]), v);
}

static int
check_self(PyObject *self)
{
    if (bound == NULL || !PyObject_TypeCheck(self, bound)) {
        PyErr_SetString(PyExc_TypeError, "the C WebSocket core is not bound to this class");
        return -1;
    }
    return 0;
}

/* self.<field> += n, where the field holds an int */
static int
add_int(PyObject *self, int i, Py_ssize_t n)
{
    PyObject *v = get(self, i);
    if (v == NULL)
        return -1;
    PyObject *k = PyLong_FromSsize_t(n);
    if (k == NULL)
        return -1;
    PyObject *sum = PyNumber_Add(v, k);
    Py_DECREF(k);
    if (sum == NULL)
        return -1;
    set(self, i, sum);
    Py_DECREF(sum);
    return 0;
}

/* 1 if v (a new reference, or NULL after an error) is true, 0 if false, -1 on error */
static int
truth(PyObject *v)
{
    if (v == NULL)
        return -1;
    int r = PyObject_IsTrue(v);
    Py_DECREF(v);
    return r;
}

#define attr_true(o, name) truth(PyObject_GetAttr((o), (name)))
#define call_true(o, name) truth(PyObject_CallMethodNoArgs((o), (name)))

/* -- receiving ------------------------------------------------------------------------ */

/* A whole message: the result of the recv() waiting for it (that recv found the queue
 * empty, so order holds), else into the queue (reading pauses when it is full). */
static int
deliver(PyObject *self, PyObject *msg)
{
    PyObject *w = get(self, F_WAITER);
    if (w == NULL)
        return -1;
    if (w != Py_None) {
        Py_INCREF(w);
        set(self, F_WAITER, Py_None);
        int done = call_true(w, s_done);
        if (done == 0) {
            PyObject *r = PyObject_CallMethodOneArg(w, s_set_result, msg);
            Py_DECREF(w);
            if (r == NULL)
                return -1;
            Py_DECREF(r);
            return 0;
        }
        Py_DECREF(w);
        if (done < 0)
            return -1;
    }
    PyObject *msgs = get(self, F_MSGS);
    if (msgs == NULL)
        return -1;
    PyObject *r = PyObject_CallMethodOneArg(msgs, s_append, msg);
    if (r == NULL)
        return -1;
    Py_DECREF(r);
    Py_ssize_t depth = PyObject_Size(msgs);
    PyObject *mq = get(self, F_MAX_QUEUE);
    if (depth < 0 || mq == NULL)
        return -1;
    Py_ssize_t max_queue = PyLong_AsSsize_t(mq);
    if (max_queue == -1 && PyErr_Occurred())
        return -1;
    if (depth >= max_queue) {
        r = PyObject_CallMethodNoArgs(self, s_pause);
        if (r == NULL)
            return -1;
        Py_DECREF(r);
    }
    return 0;
}

static PyObject *
Core_on_ws_frame(PyObject *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "on_ws_frame(transport, frame)");
        return NULL;
    }
    if (check_self(self) < 0)
        return NULL;
    PyObject *transport = args[0], *frame = args[1];
    PyObject *mt = PyObject_GetAttr(frame, s_msg_type);
    if (mt == NULL)
        return NULL;
    PyObject *size = NULL, *msg = NULL, *res = NULL;
    if (mt == TEXT || mt == BINARY) {
        int fin = attr_true(frame, s_fin);
        PyObject *parts = get(self, F_PARTS);
        if (fin < 0 || parts == NULL)
            goto done;
        if (fin && parts == Py_None) { /* most frames */
            size = PyObject_GetAttr(frame, s_payload_size);
            if (size == NULL)
                goto done;
            Py_ssize_t n = PyLong_AsSsize_t(size);
            if (n < 0 && PyErr_Occurred())
                goto done;
            msg = PyObject_CallMethodNoArgs(frame, mt == TEXT ? s_utf8 : s_bytes);
            if (msg == NULL) {
                if (mt == TEXT && PyErr_ExceptionMatches(PyExc_UnicodeDecodeError)) {
                    PyErr_Clear(); /* Python raises the protocol error (code 1007) */
                    res = PyObject_CallMethodObjArgs(self, s_slow_frame, transport, frame,
                                                     NULL);
                }
                goto done;
            }
            if (add_int(self, F_N_IN, n + (n < 126 ? 2 : n < 65536 ? 4 : 10)) < 0)
                goto done;
            if (deliver(self, msg) < 0)
                goto done;
            res = Py_NewRef(Py_None);
            goto done;
        }
    }
    size = PyObject_GetAttr(frame, s_payload_size);
    if (size != NULL)
        res = PyObject_CallMethodObjArgs(self, s_other_frame, transport, frame, mt, size,
                                         NULL);
done:
    Py_DECREF(mt);
    Py_XDECREF(size);
    Py_XDECREF(msg);
    return res;
}

/* -- sending -------------------------------------------------------------------------- */

static PyObject *
Core_send_now(PyObject *self, PyObject *message)
{
    if (check_self(self) < 0)
        return NULL;
    PyObject *t = get(self, F_T), *paused = get(self, F_WRITE_PAUSED),
             *code = get(self, F_CLOSE_CODE);
    if (t == NULL || paused == NULL || code == NULL)
        return NULL;
    int p = PyObject_IsTrue(paused);
    if (p < 0)
        return NULL;
    if (p || t == Py_None || code != Py_None)
        Py_RETURN_FALSE;
    Py_INCREF(t);
    PyObject *res = NULL;
    int closing = attr_true(t, s_close_sent);
    if (closing == 0)
        closing = attr_true(t, s_disconnected);
    if (closing != 0) {
        if (closing > 0)
            res = Py_NewRef(Py_False);
        goto done;
    }
    if (PyUnicode_CheckExact(message)) { /* the common case */
        PyObject *data = PyUnicode_AsUTF8String(message);
        if (data == NULL)
            goto done;
        PyObject *call[3] = {t, TEXT, data};
        PyObject *r = PyObject_VectorcallMethod(
            s_send, call, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        Py_ssize_t n = PyBytes_GET_SIZE(data);
        Py_DECREF(data);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
        if (add_int(self, F_N_OUT, n + (n < 126 ? 6 : n < 65536 ? 8 : 14)) < 0)
            goto done;
    }
    else {
        PyObject *r = PyObject_CallMethodOneArg(self, s_write, message);
        if (r == NULL)
            goto done;
        Py_DECREF(r);
    }
    res = Py_NewRef(Py_True);
done:
    Py_DECREF(t);
    return res;
}

/* -- Recv: what `await session.recv()` awaits ----------------------------------------- */

enum { R_FRESH, R_WAITING, R_OVER, R_SENT };

typedef struct {
    PyObject_HEAD
    PyObject *conn;
    PyObject *fut; /* the waiter it yielded (R_WAITING) */
    int state;
} Recv;

static PyTypeObject Recv_Type;

/* The message is the caller's: count it for the session, flush the counters when due. */
static int
counted(PyObject *conn)
{
    PyObject *s = get(conn, F_SESSION);
    if (s == NULL)
        return -1;
    if (s == Py_None)
        return 0;
    Py_INCREF(s);
    int rc = -1;
    PyObject *n = NULL, *now = NULL, *next = NULL;
    n = PyObject_GetAttr(s, s_n_recv);
    if (n == NULL)
        goto done;
    PyObject *one = PyLong_FromLong(1);
    PyObject *n1 = one ? PyNumber_Add(n, one) : NULL;
    Py_XDECREF(one);
    if (n1 == NULL)
        goto done;
    int r = PyObject_SetAttr(s, s_n_recv, n1);
    Py_DECREF(n1);
    if (r < 0)
        goto done;
    PyObject *clock = get(conn, F_NOW);
    if (clock == NULL)
        goto done;
    now = PyObject_CallNoArgs(clock);
    next = now ? PyObject_GetAttr(s, s_next_flush) : NULL;
    if (next == NULL)
        goto done;
    int due = PyObject_RichCompareBool(now, next, Py_GE);
    if (due < 0)
        goto done;
    if (due) {
        PyObject *f = PyObject_CallMethodNoArgs(s, s_flush);
        if (f == NULL)
            goto done;
        Py_DECREF(f);
    }
    rc = 0;
done:
    Py_XDECREF(n);
    Py_XDECREF(now);
    Py_XDECREF(next);
    Py_DECREF(s);
    return rc;
}

/* conn.<name>(), whose only result is the exception it raises */
static PySendResult
raise_from(PyObject *conn, PyObject *name)
{
    PyObject *r = PyObject_CallMethodNoArgs(conn, name);
    if (r != NULL) {
        Py_DECREF(r);
        PyErr_Format(PyExc_SystemError, "%U() returned instead of raising", name);
    }
    return PYGEN_ERROR;
}

/* One step, as FastConnection.recv's coroutine would take it. */
static PySendResult
Recv_step(Recv *self, PyObject **result)
{
    *result = NULL;
    if (self->state == R_SENT) {
        *result = Py_NewRef(Py_None);
        return PYGEN_RETURN;
    }
    if (self->state == R_OVER) {
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited recv()");
        return PYGEN_ERROR;
    }
    PyObject *conn = self->conn;
    if (self->state == R_WAITING) { /* resumed: the waiter is done */
        PyObject *fut = self->fut;
        self->fut = NULL;
        self->state = R_FRESH;
        PyObject *got = PyObject_CallMethodNoArgs(fut, s_result); /* raises if cancelled */
        Py_DECREF(fut);
        if (got == NULL) {
            self->state = R_OVER;
            return PYGEN_ERROR;
        }
        if (got != Py_None) { /* deliver()'s message; None is wake(): look again */
            if (counted(conn) < 0) {
                Py_DECREF(got);
                self->state = R_OVER;
                return PYGEN_ERROR;
            }
            self->state = R_OVER;
            *result = got;
            return PYGEN_RETURN;
        }
        Py_DECREF(got);
    }
    self->state = R_OVER; /* every exit below but the yield ends it */
    PyObject *msgs = get(conn, F_MSGS);
    if (msgs == NULL)
        return PYGEN_ERROR;
    Py_ssize_t depth = PyObject_Size(msgs);
    if (depth < 0)
        return PYGEN_ERROR;
    if (depth > 0) {
        PyObject *msg = PyObject_CallMethodNoArgs(msgs, s_popleft);
        if (msg == NULL)
            return PYGEN_ERROR;
        PyObject *rp = get(conn, F_READING_PAUSED);
        int paused = rp ? PyObject_IsTrue(rp) : -1;
        if (paused > 0) { /* Python decides when reading resumes */
            PyObject *r = PyObject_CallMethodNoArgs(conn, s_taken);
            if (r == NULL)
                paused = -1;
            Py_XDECREF(r);
        }
        if (paused < 0 || counted(conn) < 0) {
            Py_DECREF(msg);
            return PYGEN_ERROR;
        }
        *result = msg;
        return PYGEN_RETURN;
    }
    PyObject *closed = get(conn, F_CLOSED), *code = get(conn, F_CLOSE_CODE),
             *w = get(conn, F_WAITER), *loop = get(conn, F_LOOP);
    if (closed == NULL || code == NULL || w == NULL || loop == NULL)
        return PYGEN_ERROR;
    int is_closed = PyObject_IsTrue(closed);
    if (is_closed < 0)
        return PYGEN_ERROR;
    if (is_closed || code != Py_None)
        return raise_from(conn, s_fail_recv); /* the session's WSClosed */
    if (w != Py_None) {
        int done = call_true(w, s_done);
        if (done < 0)
            return PYGEN_ERROR;
        if (!done)
            return raise_from(conn, s_fail_recv); /* ConcurrencyError: one reader */
    }
    PyObject *fut = PyObject_CallMethodNoArgs(loop, s_create_future);
    if (fut == NULL)
        return PYGEN_ERROR;
    if (PyObject_SetAttr(fut, s_blocking, Py_True) < 0) { /* as Future.__await__ does */
        Py_DECREF(fut);
        return PYGEN_ERROR;
    }
    set(conn, F_WAITER, fut);
    self->fut = fut; /* the reference create_future gave */
    self->state = R_WAITING;
    *result = Py_NewRef(fut);
    return PYGEN_NEXT;
}

static PySendResult
Recv_am_send(Recv *self, PyObject *arg, PyObject **result)
{
    return Recv_step(self, result);
}

static PyObject *
Recv_iternext(Recv *self)
{
    PyObject *result;
    PySendResult r = Recv_step(self, &result);
    if (r == PYGEN_NEXT)
        return result;
    if (r == PYGEN_RETURN) {
        if (result != Py_None) {
            PyObject *stop = PyObject_CallOneArg(PyExc_StopIteration, result);
            if (stop != NULL) {
                PyErr_SetObject(PyExc_StopIteration, stop);
                Py_DECREF(stop);
            }
        }
        Py_DECREF(result);
    }
    return NULL;
}

static PyObject *
Recv_send(Recv *self, PyObject *arg)
{
    PyObject *result = Recv_iternext(self);
    if (result == NULL && !PyErr_Occurred())
        PyErr_SetNone(PyExc_StopIteration);
    return result;
}

/* A cancellation (or any exception) thrown in while waiting: a message that reached the
 * waiter first goes back to the head of the queue, then the exception propagates. */
static PyObject *
Recv_throw(Recv *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw(value) or throw(type[, value[, tb]])");
        return NULL;
    }
    PyObject *typ = args[0], *val = nargs > 1 ? args[1] : Py_None;
    if (self->state == R_WAITING) {
        PyObject *fut = self->fut;
        self->fut = NULL;
        int keep = call_true(fut, s_done);
        if (keep > 0) {
            int cancelled = call_true(fut, s_cancelled);
            keep = cancelled < 0 ? -1 : !cancelled;
        }
        if (keep > 0) {
            PyObject *got = PyObject_CallMethodNoArgs(fut, s_result);
            PyObject *msgs = got ? get(self->conn, F_MSGS) : NULL;
            PyObject *r = NULL;
            if (msgs != NULL)
                r = got == Py_None ? Py_NewRef(Py_None)
                                   : PyObject_CallMethodOneArg(msgs, s_appendleft, got);
            Py_XDECREF(got);
            keep = r == NULL ? -1 : 0;
            Py_XDECREF(r);
        }
        Py_DECREF(fut);
        if (keep < 0) {
            self->state = R_OVER;
            return NULL;
        }
    }
    if (self->state != R_SENT)
        self->state = R_OVER;
    if (PyExceptionInstance_Check(typ)) {
        if (val != Py_None) {
            PyErr_SetString(PyExc_TypeError, "instance exception may not have a separate value");
            return NULL;
        }
        PyErr_SetObject((PyObject *)Py_TYPE(typ), typ);
    }
    else if (PyExceptionClass_Check(typ)) {
        PyErr_SetObject(typ, val);
    }
    else {
        PyErr_SetString(PyExc_TypeError, "exceptions must derive from BaseException");
    }
    return NULL;
}

static PyObject *
Recv_close(Recv *self, PyObject *Py_UNUSED(ignored))
{
    if (self->state != R_SENT) {
        Py_CLEAR(self->fut);
        self->state = R_OVER;
    }
    Py_RETURN_NONE;
}

static PyObject *
Recv_await(PyObject *self)
{
    return Py_NewRef(self);
}

static int
Recv_traverse(Recv *self, visitproc visit, void *arg)
{
    Py_VISIT(self->conn);
    Py_VISIT(self->fut);
    return 0;
}

static int
Recv_clear(Recv *self)
{
    Py_CLEAR(self->conn);
    Py_CLEAR(self->fut);
    return 0;
}

static void
Recv_dealloc(Recv *self)
{
    PyObject_GC_UnTrack(self);
    Recv_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Recv_methods[] = {
    {"send", (PyCFunction)Recv_send, METH_O, "Resume (asyncio sends None)."},
    {"throw", (PyCFunction)(void (*)(void))Recv_throw, METH_FASTCALL,
     "Raise an exception at the await (a cancellation)."},
    {"close", (PyCFunction)Recv_close, METH_NOARGS, "End it."},
    {NULL}
};

static PyAsyncMethods Recv_async = {
    .am_await = Recv_await,
    .am_send = (sendfunc)Recv_am_send,
};

static PyTypeObject Recv_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "loadgen.net.ws._core.Recv",
    .tp_basicsize = sizeof(Recv),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "An awaitable recv() of a picows connection (see the module's docstring).",
    .tp_as_async = &Recv_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Recv_iternext,
    .tp_methods = Recv_methods,
    .tp_traverse = (traverseproc)Recv_traverse,
    .tp_clear = (inquiry)Recv_clear,
    .tp_dealloc = (destructor)Recv_dealloc,
};

static PyObject *
Core_recv_fast(PyObject *self, PyObject *Py_UNUSED(ignored))
{
    if (check_self(self) < 0)
        return NULL;
    Recv *r = PyObject_GC_New(Recv, &Recv_Type);
    if (r == NULL)
        return NULL;
    r->conn = Py_NewRef(self);
    r->fut = NULL;
    r->state = R_FRESH;
    PyObject_GC_Track(r);
    return (PyObject *)r;
}

/* -- Core: the mixin ------------------------------------------------------------------ */

static PyMethodDef Core_methods[] = {
    {"on_ws_frame", (PyCFunction)(void (*)(void))Core_on_ws_frame, METH_FASTCALL,
     "picows' frame callback: whole text and binary frames here, the rest in Python."},
    {"send_now", (PyCFunction)Core_send_now, METH_O,
     "Send at once unless the write buffer is over write_limit; True if sent."},
    {"recv_fast", (PyCFunction)Core_recv_fast, METH_NOARGS,
     "An awaitable of the next message (FastConnection.recv's twin)."},
    {NULL}
};

static PyTypeObject Core_Type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "loadgen.net.ws._core.Core",
    .tp_basicsize = sizeof(PyObject),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE,
    .tp_doc = "The per-message methods of FastConnection (no fields: it reads the "
              "class's slots at the offsets bind() found).",
    .tp_methods = Core_methods,
};

/* bind(cls, text, binary): cls must have every field as a writable object slot */
static PyObject *
bind(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3 || !PyType_Check(args[0])) {
        PyErr_SetString(PyExc_TypeError, "bind(cls, TEXT, BINARY)");
        return NULL;
    }
    PyTypeObject *cls = (PyTypeObject *)args[0];
    if (!PyType_IsSubtype(cls, &Core_Type)) {
        PyErr_Format(PyExc_TypeError, "%s does not derive from Core", cls->tp_name);
        return NULL;
    }
    Py_ssize_t found[N_FIELDS];
    for (int i = 0; i < N_FIELDS; i++) {
        PyObject *descr = PyObject_GetAttrString(args[0], field_names[i]);
        if (descr == NULL)
            return NULL;
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type);
        PyMemberDef *m = ok ? ((PyMemberDescrObject *)descr)->d_member : NULL;
        ok = ok && m->type == T_OBJECT_EX && !(m->flags & READONLY)
             && PyType_IsSubtype(cls, ((PyDescrObject *)descr)->d_type);
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%s is not a writable object slot of %s",
                         field_names[i], cls->tp_name);
            return NULL;
        }
        found[i] = m->offset;
    }
    memcpy(off, found, sizeof(off));
    Py_INCREF(cls);
    Py_XSETREF(bound, cls);
    Py_INCREF(args[1]);
    Py_XSETREF(TEXT, args[1]);
    Py_INCREF(args[2]);
    Py_XSETREF(BINARY, args[2]);
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"bind", (PyCFunction)(void (*)(void))bind, METH_FASTCALL,
     "bind(cls, TEXT, BINARY): the connection class Core's methods serve."},
    {NULL}
};

static struct PyModuleDef module_def = {
    PyModuleDef_HEAD_INIT, "loadgen.net.ws._core",
    "The per-message methods of a picows WebSocket connection, in C.", -1, module_methods,
};

#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL

PyMODINIT_FUNC
PyInit__core(void)
{
    INTERN(s_msg_type, "msg_type");
    INTERN(s_fin, "fin");
    INTERN(s_payload_size, "payload_size");
    INTERN(s_utf8, "get_payload_as_utf8_text");
    INTERN(s_bytes, "get_payload_as_bytes");
    INTERN(s_other_frame, "other_frame");
    INTERN(s_slow_frame, "slow_frame");
    INTERN(s_done, "done");
    INTERN(s_set_result, "set_result");
    INTERN(s_append, "append");
    INTERN(s_appendleft, "appendleft");
    INTERN(s_popleft, "popleft");
    INTERN(s_pause, "pause");
    INTERN(s_close_sent, "is_close_frame_sent");
    INTERN(s_disconnected, "is_disconnected");
    INTERN(s_send, "send");
    INTERN(s_write, "_write");
    INTERN(s_create_future, "create_future");
    INTERN(s_blocking, "_asyncio_future_blocking");
    INTERN(s_result, "result");
    INTERN(s_cancelled, "cancelled");
    INTERN(s_n_recv, "n_recv");
    INTERN(s_next_flush, "next_flush");
    INTERN(s_flush, "flush");
    INTERN(s_fail_recv, "fail_recv");
    INTERN(s_taken, "taken");
    if (PyType_Ready(&Recv_Type) < 0 || PyType_Ready(&Core_Type) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module_def);
    if (m == NULL)
        return NULL;
    Recv *sent = PyObject_GC_New(Recv, &Recv_Type);
    if (sent == NULL) {
        Py_DECREF(m);
        return NULL;
    }
    sent->conn = sent->fut = NULL;
    sent->state = R_SENT;
    PyObject_GC_Track(sent);
    if (PyModule_AddObjectRef(m, "Core", (PyObject *)&Core_Type) < 0
        || PyModule_AddObjectRef(m, "Recv", (PyObject *)&Recv_Type) < 0
        || PyModule_AddObject(m, "SENT", (PyObject *)sent) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
