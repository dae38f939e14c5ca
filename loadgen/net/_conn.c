/* The per-response core of the fast transport's connection (loadgen/net/conn_core.py).
 *
 * Why C: a keep-alive GET's answer usually arrives in one read, whole: a status line, a
 * few headers with a Content-Length, and that many body bytes. In Python, handling it took
 * three frames (data_received, then httptools' callbacks on_body and on_message_complete)
 * and ~160 bytecodes, about a seventh of a whole HTTP iteration (benchmarks/
 * bench_instructions.py). Here that case is one C call from the event loop.
 *
 * Core: a base type holding the connection's fields (the same names, as T_OBJECT_EX
 * members, so Python code reads them as fast as __slots__) and these methods:
 *
 * begin(fut, is_head, deadline)
 *   resets the per-request state, as conn_core.PyCore.begin (the rare parts, a HEAD
 *   parser and re-arming the timeout timer, call back into the subclass's _new_parser and
 *   _arm).
 * send(data, is_head, deadline, cap) -> future
 *   a new future, begin(), the request written, and when it went (PyCore.send).
 * timings(t0, t_block, t_ready, connecting, tls) -> Timings
 *   the request's phases in ms from the connection's clocks (PyCore.timings).
 * data_received(data)
 *   when `data` is the whole of a plain response (see `parse`) and nothing of it has been
 *   seen yet, stores exactly what the subclass's `_receive` (the Python path: llhttp and
 *   its callbacks) would have stored for it, and wakes the sender. Anything else goes to
 *   `self._receive(data)` untouched. The accepted responses are a strict subset of what
 *   llhttp accepts, read the same way; tests/net/test_conn_core.py holds the two paths
 *   against each other on a corpus of well- and ill-formed responses. One field only this
 *   path sets: `plain`, True when such a response had no Content-Encoding and no
 *   Set-Cookie header (the transport then skips its decoding search, the client its
 *   cookie search).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../cshared.h"
#include <structmember.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    PyObject *loop, *key, *transport, *parser, *closed, *used, *proto, *tls_version;
    PyObject *paused, *busy, *done, *is_head, *head_stop, *fut, *status, *head, *hbuf;
    PyObject *body, *blen, *nrecv, *keep, *t_sent, *t_first, *t_end, *err_code, *err_msg;
    PyObject *deadline, *timer, *timer_at, *cap, *keep_body, *n1xx, *plain;
} Core;

/* a head longer than this is left to the Python path, which counts its lines */
static Py_ssize_t count_from = 40000;

static PyObject *s_receive, *s_new_parser, *s_arm, *s_done, *s_set_result, *s_create_future;
static PyObject *s_write, *s_write_failed;
static PyObject *empty_bytes, *zero, *proto_11, *proto_10, *no_cap;
static PyTypeObject *timings_type; /* net/types.Timings, given by conn_core at import */

/* Replace a field with a new reference (stolen); NULL is an error already set. */
static inline int
set_field(PyObject **slot, PyObject *value)
{
    if (value == NULL)
        return -1;
    PyObject *old = *slot;
    *slot = value;
    Py_XDECREF(old);
    return 0;
}

static inline int
set_new(PyObject **slot, PyObject *value)
{
    Py_INCREF(value);
    return set_field(slot, value);
}

static inline int
is_zero(PyObject *o)
{
    if (o == zero)
        return 1;
    return o != NULL && PyLong_CheckExact(o) && PyObject_RichCompareBool(o, zero, Py_EQ) == 1;
}

/* o + n for an int field (a new reference, or NULL and an error) */
static PyObject *
add_size(PyObject *o, Py_ssize_t n)
{
    PyObject *k = PyLong_FromSsize_t(n);
    if (k == NULL)
        return NULL;
    PyObject *sum = PyNumber_Add(o, k);
    Py_DECREF(k);
    return sum;
}

/* ---- the plain response ------------------------------------------------------------- */

typedef struct {
    int status;
    int http10;
    int keep;
    int plain; /* no Content-Encoding, no Set-Cookie */
    Py_ssize_t head_end; /* where "\r\n\r\n" starts: the head is data[:head_end] */
    Py_ssize_t length;   /* Content-Length */
} Plain;

static const unsigned char TCHAR[256] = {
    ['!'] = 1, ['#'] = 1, ['$'] = 1, ['%'] = 1, ['&'] = 1, ['\''] = 1, ['*'] = 1, ['+'] = 1,
    ['-'] = 1, ['.'] = 1, ['^'] = 1, ['_'] = 1, ['`'] = 1, ['|'] = 1, ['~'] = 1,
    ['0'] = 1, ['1'] = 1, ['2'] = 1, ['3'] = 1, ['4'] = 1, ['5'] = 1, ['6'] = 1, ['7'] = 1,
    ['8'] = 1, ['9'] = 1,
    ['A'] = 1, ['B'] = 1, ['C'] = 1, ['D'] = 1, ['E'] = 1, ['F'] = 1, ['G'] = 1, ['H'] = 1,
    ['I'] = 1, ['J'] = 1, ['K'] = 1, ['L'] = 1, ['M'] = 1, ['N'] = 1, ['O'] = 1, ['P'] = 1,
    ['Q'] = 1, ['R'] = 1, ['S'] = 1, ['T'] = 1, ['U'] = 1, ['V'] = 1, ['W'] = 1, ['X'] = 1,
    ['Y'] = 1, ['Z'] = 1,
    ['a'] = 1, ['b'] = 1, ['c'] = 1, ['d'] = 1, ['e'] = 1, ['f'] = 1, ['g'] = 1, ['h'] = 1,
    ['i'] = 1, ['j'] = 1, ['k'] = 1, ['l'] = 1, ['m'] = 1, ['n'] = 1, ['o'] = 1, ['p'] = 1,
    ['q'] = 1, ['r'] = 1, ['s'] = 1, ['t'] = 1, ['u'] = 1, ['v'] = 1, ['w'] = 1, ['x'] = 1,
    ['y'] = 1, ['z'] = 1,
};

/* a header value's byte: visible ASCII, space or tab (llhttp also takes obs-text; we leave
 * those responses to it) */
static inline int
vchar(unsigned char c)
{
    return (c >= 0x20 && c < 0x7f) || c == '\t';
}

/* p[0:n] equals `lower` (a lower-case literal) ignoring ASCII case */
#define SAME(p, n, lower) same_ci((p), (n), (lower), sizeof(lower) - 1)

static inline int
same_ci(const char *p, Py_ssize_t n, const char *lower, Py_ssize_t m)
{
    if (n != m)
        return 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        char c = p[i];
        if (c >= 'A' && c <= 'Z')
            c = (char)(c - 'A' + 'a');
        if (c != lower[i])
            return 0;
    }
    return 1;
}

/* The value without leading and trailing spaces and tabs. */
static void
trim(const char **p, Py_ssize_t *n)
{
    while (*n > 0 && ((*p)[0] == ' ' || (*p)[0] == '\t')) {
        (*p)++;
        (*n)--;
    }
    while (*n > 0 && ((*p)[*n - 1] == ' ' || (*p)[*n - 1] == '\t'))
        (*n)--;
}

/* 1 when buf[0:n] is one whole response this code may read: "HTTP/1.1" or "HTTP/1.0", a
 * status 200-599 other than 204 and 304 with a reason of visible ASCII, header lines of a
 * token name, a colon and a value of visible ASCII (CRLF endings only), exactly one
 * Content-Length of 1-15 digits equal to the bytes after the head, no Transfer-Encoding,
 * Upgrade or Proxy-Connection, at most one Connection header saying "keep-alive" or
 * "close". 0 for anything else (the Python path, llhttp, decides those). */
static int
parse(const char *buf, Py_ssize_t n, Plain *out)
{
    if (n < 19 || memcmp(buf, "HTTP/1.", 7) != 0 || (buf[7] != '1' && buf[7] != '0')
        || buf[8] != ' ')
        return 0;
    if (buf[9] < '2' || buf[9] > '5' || buf[10] < '0' || buf[10] > '9' || buf[11] < '0'
        || buf[11] > '9' || buf[12] != ' ')
        return 0;
    out->http10 = buf[7] == '0';
    out->status = (buf[9] - '0') * 100 + (buf[10] - '0') * 10 + (buf[11] - '0');
    if (out->status == 204 || out->status == 304)
        return 0;
    Py_ssize_t i = 13;
    while (i < n && buf[i] != '\r') {
        if (!vchar((unsigned char)buf[i]))
            return 0;
        i++;
    }
    int have_length = 0, have_connection = 0, close = 0, keep_alive = 0;
    out->plain = 1;
    Py_ssize_t length = 0;
    for (;;) {
        /* buf[i] is the CR ending a line */
        if (i + 1 >= n || buf[i + 1] != '\n')
            return 0;
        if (i + 3 < n && buf[i + 2] == '\r' && buf[i + 3] == '\n') {
            out->head_end = i;
            break;
        }
        Py_ssize_t name = i + 2, j = name;
        while (j < n && TCHAR[(unsigned char)buf[j]])
            j++;
        if (j == name || j >= n || buf[j] != ':')
            return 0;
        Py_ssize_t name_len = j - name, value = j + 1;
        j = value;
        while (j < n && buf[j] != '\r') {
            if (!vchar((unsigned char)buf[j]))
                return 0;
            j++;
        }
        if (j >= n)
            return 0;
        const char *v = buf + value;
        Py_ssize_t vlen = j - value;
        trim(&v, &vlen);
        const char *nm = buf + name;
        /* only five names matter to llhttp's framing: told apart by length first */
        if (name_len == 14 && SAME(nm, name_len, "content-length")) {
            if (have_length || vlen < 1 || vlen > 15)
                return 0;
            for (Py_ssize_t k = 0; k < vlen; k++) {
                if (v[k] < '0' || v[k] > '9')
                    return 0;
                length = length * 10 + (v[k] - '0');
            }
            have_length = 1;
        }
        else if (name_len == 10 && SAME(nm, name_len, "connection")) {
            if (have_connection)
                return 0;
            have_connection = 1;
            if (SAME(v, vlen, "close"))
                close = 1;
            else if (SAME(v, vlen, "keep-alive"))
                keep_alive = 1;
            else
                return 0;
        }
        else if ((name_len == 10 && SAME(nm, name_len, "set-cookie"))
                 || (name_len == 16 && SAME(nm, name_len, "content-encoding")))
            out->plain = 0;
        else if ((name_len == 17 && SAME(nm, name_len, "transfer-encoding"))
                 || (name_len == 7 && SAME(nm, name_len, "upgrade"))
                 || (name_len == 16 && SAME(nm, name_len, "proxy-connection")))
            return 0;
        i = j;
    }
    if (!have_length || n - (out->head_end + 4) != length)
        return 0;
    out->length = length;
    /* llhttp_should_keep_alive with a Content-Length: HTTP/1.1 unless "close", HTTP/1.0 only
     * with "keep-alive" */
    out->keep = out->http10 ? keep_alive : !close;
    return 1;
}

/* ---- the methods -------------------------------------------------------------------- */

static PyObject *
Core_begin(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 3) {
        PyErr_SetString(PyExc_TypeError, "begin(fut, is_head, deadline) takes 3 arguments");
        return NULL;
    }
    PyObject *fut = args[0], *is_head = args[1], *deadline = args[2];
    if (set_new(&self->fut, fut) < 0 || set_new(&self->busy, Py_True) < 0
        || set_new(&self->done, Py_False) < 0 || set_new(&self->used, Py_True) < 0
        || set_new(&self->head, Py_None) < 0 || set_new(&self->body, Py_None) < 0
        || set_new(&self->blen, zero) < 0 || set_new(&self->nrecv, zero) < 0
        || set_new(&self->t_first, zero) < 0 || set_new(&self->err_code, zero) < 0
        || set_new(&self->n1xx, zero) < 0 || set_new(&self->plain, Py_False) < 0
        || set_new(&self->deadline, deadline) < 0)
        return NULL;
    int head_now = PyObject_IsTrue(is_head);
    if (head_now < 0)
        return NULL;
    int head_before = self->is_head == NULL ? 0 : PyObject_IsTrue(self->is_head);
    if (head_before < 0)
        return NULL;
    if (head_now || head_before) {
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)self, s_new_parser, is_head);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    int arm = self->timer == NULL || self->timer == Py_None;
    if (!arm) {
        if (self->timer_at == NULL) {
            PyErr_SetString(PyExc_AttributeError, "timer_at");
            return NULL;
        }
        arm = PyObject_RichCompareBool(deadline, self->timer_at, Py_LT);
        if (arm < 0)
            return NULL;
    }
    if (arm) {
        PyObject *r = PyObject_CallMethodOneArg((PyObject *)self, s_arm, deadline);
        if (r == NULL)
            return NULL;
        Py_DECREF(r);
    }
    Py_RETURN_NONE;
}

static PyObject *
Core_send(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 4) {
        PyErr_SetString(PyExc_TypeError, "send(data, is_head, deadline, cap) takes 4 arguments");
        return NULL;
    }
    PyObject *data = args[0], *cap = args[3];
    if (self->loop == NULL || self->transport == NULL) {
        PyErr_SetString(PyExc_AttributeError, "the connection has no loop or transport");
        return NULL;
    }
    int capped = PyObject_IsTrue(cap);
    if (capped < 0 || set_new(&self->cap, capped ? cap : no_cap) < 0)
        return NULL;
    PyObject *fut = PyObject_CallMethodNoArgs(self->loop, s_create_future);
    if (fut == NULL)
        return NULL;
    PyObject *begin_args[3] = {fut, args[1], args[2]};
    PyObject *r = Core_begin(self, begin_args, 3);
    if (r == NULL)
        goto fail;
    Py_DECREF(r);
    r = PyObject_CallMethodOneArg(self->transport, s_write, data);
    if (r == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_RuntimeError))
            goto fail;
        PyErr_Clear(); /* closed under us (uvloop raises): like a stale close */
        r = PyObject_CallMethodNoArgs((PyObject *)self, s_write_failed);
        if (r == NULL)
            goto fail;
    }
    Py_DECREF(r);
    if (self->paused == Py_True) {
        if (set_new(&self->t_sent, zero) < 0)
            goto fail;
    }
    else if (set_field(&self->t_sent, PyLong_FromLongLong(now_ns())) < 0)
        goto fail;
    return fut;
fail:
    Py_DECREF(fut);
    return NULL;
}

static int
as_ns(PyObject *o, long long *out)
{
    if (o == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a time field is unset");
        return -1;
    }
    *out = as_int64(o);
    return (*out == -1 && PyErr_Occurred()) ? -1 : 0;
}

static PyObject *
Core_timings(Core *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs != 5) {
        PyErr_SetString(PyExc_TypeError,
                        "timings(t0, t_block, t_ready, connecting, tls) takes 5 arguments");
        return NULL;
    }
    if (timings_type == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "set_timings_type() was not called");
        return NULL;
    }
    long long t0, t_block, t_ready, connecting, tls, t_first, t_sent, t_end;
    if (as_ns(args[0], &t0) < 0 || as_ns(args[1], &t_block) < 0 || as_ns(args[2], &t_ready) < 0
        || as_ns(args[3], &connecting) < 0 || as_ns(args[4], &tls) < 0
        || as_ns(self->t_first, &t_first) < 0 || as_ns(self->t_sent, &t_sent) < 0
        || as_ns(self->t_end, &t_end) < 0)
        return NULL;
    if (t_sent == 0)
        t_sent = t_first;
    /* (a - b) / 1e6 in Python: the exact int difference, then a float division */
    double ms[6] = {(double)(t_block - t0) / 1e6, (double)connecting / 1e6, (double)tls / 1e6,
                    (double)(t_sent - t_ready) / 1e6, (double)(t_first - t_sent) / 1e6,
                    (double)(t_end - t_first) / 1e6};
    return float_tuple(timings_type, ms, 6);
}

static PyObject *
slow(Core *self, PyObject *data)
{
    return PyObject_CallMethodOneArg((PyObject *)self, s_receive, data);
}

static PyObject *
Core_data_received(Core *self, PyObject *data)
{
    if (!PyBytes_CheckExact(data) || self->busy != Py_True || self->head != Py_None
        || self->is_head != Py_False || !is_zero(self->t_first) || self->cap == NULL
        || self->keep_body == NULL || self->nrecv == NULL || self->blen == NULL)
        return slow(self, data);
    const char *buf = PyBytes_AS_STRING(data);
    Py_ssize_t n = PyBytes_GET_SIZE(data);
    Plain p;
    if (!parse(buf, n, &p) || p.head_end > count_from)
        return slow(self, data);
    if (!PyLong_Check(self->cap))
        return slow(self, data);
    int overflow = 0;
    long long cap = PyLong_AsLongLongAndOverflow(self->cap, &overflow);
    if (cap == -1 && PyErr_Occurred())
        return NULL;
    if (overflow < 0 || (overflow == 0 && p.length > cap))
        return slow(self, data); /* too large: the Python path fails the request */
    int keep_body = PyObject_IsTrue(self->keep_body);
    if (keep_body < 0)
        return NULL;

    /* what _receive, on_body and on_message_complete store, in their order */
    if (set_field(&self->t_first, PyLong_FromLongLong(now_ns())) < 0
        || set_new(&self->hbuf, empty_bytes) < 0
        || set_field(&self->nrecv, add_size(self->nrecv, n)) < 0
        || set_field(&self->head, PyBytes_FromStringAndSize(buf, p.head_end)) < 0)
        return NULL;
    if (p.length > 0) { /* on_body, once: llhttp hands a contiguous body over whole */
        if (set_field(&self->blen, add_size(self->blen, p.length)) < 0)
            return NULL;
        if (keep_body && set_field(&self->body, PyBytes_FromStringAndSize(
                                                    buf + p.head_end + 4, p.length)) < 0)
            return NULL;
    }
    PyObject *status = PyLong_FromLong(p.status);
    if (set_field(&self->status, status) < 0
        || set_new(&self->keep, p.keep ? Py_True : Py_False) < 0
        || set_field(&self->t_end, PyLong_FromLongLong(now_ns())) < 0)
        return NULL;
    /* `if not self.proto`, read again: the stores above may have run a destructor */
    int has_proto = self->proto == NULL ? 0 : PyObject_IsTrue(self->proto);
    if (has_proto < 0
        || (!has_proto && set_new(&self->proto, p.http10 ? proto_10 : proto_11) < 0))
        return NULL;
    if (set_new(&self->plain, p.plain ? Py_True : Py_False) < 0
        || set_new(&self->busy, Py_False) < 0 || set_new(&self->done, Py_True) < 0)
        return NULL;
    PyObject *fut = self->fut;
    if (fut != NULL && fut != Py_None) {
        Py_INCREF(fut);
        PyObject *done = PyObject_CallMethodNoArgs(fut, s_done);
        int is_done = done == NULL ? -1 : PyObject_IsTrue(done);
        Py_XDECREF(done);
        PyObject *r = NULL;
        if (is_done == 0)
            r = PyObject_CallMethodOneArg(fut, s_set_result, Py_None);
        Py_DECREF(fut);
        if (is_done < 0 || (is_done == 0 && r == NULL))
            return NULL;
        Py_XDECREF(r);
    }
    Py_RETURN_NONE;
}

/* ---- the type ----------------------------------------------------------------------- */

#define FIELD(name) {#name, T_OBJECT_EX, offsetof(Core, name), 0, NULL}
static PyMemberDef Core_members[] = {
    FIELD(loop), FIELD(key), FIELD(transport), FIELD(parser), FIELD(closed), FIELD(used),
    FIELD(proto), FIELD(tls_version), FIELD(paused), FIELD(busy), FIELD(done),
    FIELD(is_head), FIELD(head_stop), FIELD(fut), FIELD(status), FIELD(head), FIELD(hbuf),
    FIELD(body), FIELD(blen), FIELD(nrecv), FIELD(keep), FIELD(t_sent), FIELD(t_first),
    FIELD(t_end), FIELD(err_code), FIELD(err_msg), FIELD(deadline), FIELD(timer),
    FIELD(timer_at), FIELD(cap), FIELD(keep_body), FIELD(n1xx), FIELD(plain),
    {NULL},
};

#define EACH_FIELD(X)                                                                        \
    X(loop) X(key) X(transport) X(parser) X(closed) X(used) X(proto) X(tls_version)          \
    X(paused) X(busy) X(done) X(is_head) X(head_stop) X(fut) X(status) X(head) X(hbuf)       \
    X(body) X(blen) X(nrecv) X(keep) X(t_sent) X(t_first) X(t_end) X(err_code) X(err_msg)    \
    X(deadline) X(timer) X(timer_at) X(cap) X(keep_body) X(n1xx) X(plain)

static int
Core_traverse(Core *self, visitproc visit, void *arg)
{
#define VISIT(name) Py_VISIT(self->name);
    EACH_FIELD(VISIT)
#undef VISIT
    return 0;
}

static int
Core_clear(Core *self)
{
#define CLEAR(name) Py_CLEAR(self->name);
    EACH_FIELD(CLEAR)
#undef CLEAR
    return 0;
}

static void
Core_dealloc(Core *self)
{
    PyObject_GC_UnTrack(self);
    Core_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyMethodDef Core_methods[] = {
    {"begin", (PyCFunction)(void (*)(void))Core_begin, METH_FASTCALL,
     "begin(fut, is_head, deadline): reset the per-request state before a request is sent."},
    {"send", (PyCFunction)(void (*)(void))Core_send, METH_FASTCALL,
     "send(data, is_head, deadline, cap) -> future: begin(), write the request, note when."},
    {"timings", (PyCFunction)(void (*)(void))Core_timings, METH_FASTCALL,
     "timings(t0, t_block, t_ready, connecting, tls) -> Timings of the request just ended."},
    {"data_received", (PyCFunction)Core_data_received, METH_O,
     "asyncio.Protocol.data_received: a whole plain response here, anything else in _receive."},
    {NULL},
};

static PyTypeObject CoreType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "loadgen.net._conn.Core",
    .tp_basicsize = sizeof(Core),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_BASETYPE | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "The fields of a fast-transport connection and its per-response path in C.",
    .tp_new = PyType_GenericNew,
    .tp_traverse = (traverseproc)Core_traverse,
    .tp_clear = (inquiry)Core_clear,
    .tp_dealloc = (destructor)Core_dealloc,
    .tp_members = Core_members,
    .tp_methods = Core_methods,
};

static PyObject *
set_count_from(PyObject *module, PyObject *arg)
{
    (void)module;
    Py_ssize_t v = PyLong_AsSsize_t(arg);
    if (v == -1 && PyErr_Occurred())
        return NULL;
    count_from = v;
    Py_RETURN_NONE;
}

static PyObject *
set_timings_type(PyObject *module, PyObject *arg)
{
    (void)module;
    if (!PyType_Check(arg) || !PyType_IsSubtype((PyTypeObject *)arg, &PyTuple_Type)
        || ((PyTypeObject *)arg)->tp_itemsize != sizeof(PyObject *)) {
        PyErr_SetString(PyExc_TypeError, "the timings type must be a tuple subclass");
        return NULL;
    }
    Py_INCREF(arg);
    Py_XDECREF(timings_type);
    timings_type = (PyTypeObject *)arg;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"set_timings_type", set_timings_type, METH_O,
     "The named tuple Core.timings() returns (net/types.Timings)."},
    {"set_count_from", set_count_from, METH_O,
     "Heads longer than this many bytes go to the Python path (which counts their lines)."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_conn", "The fast connection's per-response path in C.", -1,
    module_methods,
};

PyMODINIT_FUNC
PyInit__conn(void)
{
    if (PyType_Ready(&CoreType) < 0)
        return NULL;
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL;
    INTERN(s_receive, "_receive")
    INTERN(s_new_parser, "_new_parser")
    INTERN(s_arm, "_arm")
    INTERN(s_done, "done")
    INTERN(s_set_result, "set_result")
    INTERN(s_create_future, "create_future")
    INTERN(s_write, "write")
    INTERN(s_write_failed, "_write_failed")
    INTERN(proto_11, "HTTP/1.1")
    INTERN(proto_10, "HTTP/1.0")
#undef INTERN
    if ((empty_bytes = PyBytes_FromStringAndSize("", 0)) == NULL
        || (zero = PyLong_FromLong(0)) == NULL
        || (no_cap = PyLong_FromSsize_t(PY_SSIZE_T_MAX)) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&CoreType);
    if (PyModule_AddObject(m, "Core", (PyObject *)&CoreType) < 0) {
        Py_DECREF(&CoreType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
