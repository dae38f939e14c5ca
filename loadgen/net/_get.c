/* The plain GET in C: `vu.http.get(url)` with no options, from the pooled connection to
 * the record and the Response, as one awaitable (loadgen/net/plain_get.py).
 *
 * Why C: after the connection's read path (_conn.c) and the object makers (_maker.c), what
 * an HTTP iteration still runs in Python is the client's `request` coroutine, the fast
 * transport's `exchange` coroutine and the client's `_record`: ~510 of ~800 bytecodes per
 * iteration, and two of the five coroutine frames every response resumes
 * (benchmarks/bench_instructions.py). Translating one function into C did not pay (the
 * record alone: -0.7%): what pays is a frame removed. This removes both coroutines and
 * the record's call for the common request and leaves everything else to them.
 *
 * get(client, url) -> an awaitable (a coroutine to asyncio: send, throw, close, __await__)
 * whose result is what `client.request("GET", url)` returns, with the same records,
 * counters and pool state. It does the request itself only when it is the plain case:
 *   at the start: no rate limiter, no trace header, an empty cookie jar, an absolute URL
 *   whose head the transport has cached (fast_request._CACHE) without error, an idle
 *   connection in the pool, the transport's loop known;
 *   at the end: no error, a response the connection read whole and plain (`conn.plain`:
 *   no Content-Encoding, no Set-Cookie), not a redirect, a tag set already in the cache.
 * Anything else at the start hands the whole call to `client.request("GET", url)` (the
 * awaitable then forwards send/throw/close to that coroutine); anything else at the end
 * hands the first hop's outcome to it (`_resume`: the RawResponse, or the retry of a stale
 * keep-alive connection), so errors, redirects, decoding, cookies and new tag sets run
 * the Python code they always ran. A cancellation while the response is awaited records
 * the request as interrupted and drops the connection, as the two coroutines do.
 *
 * Objects are read through their slots' offsets (cshared.h: member descriptors found at
 * setup, the types checked per object): a slot read is what the specialised bytecode costs,
 * where PyObject_GetAttr costs several times more (which is why the C record alone did not
 * pay).
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include "../cshared.h"
#include <structmember.h>

/* ---- the slots read (cshared.h's Slot), found by setup() ------------------------------ */

/* client (HttpClient) */
static Slot c_meter, c_transport, c_cookies, c_timeout, c_expected, c_tag_cache, c_max_bytes;
/* meter (Meter) */
static Slot m_recorder, m_tags, m_limiter, m_sent, m_received, m_slowest, m_trace;
static Slot j_entries;            /* CookieJar */
static Slot r_records;            /* Recorder */
static Slot p_idle, p_waiters;    /* ConnectionPool */
static Slot h_key, h_end, h_error_code; /* fast_request.Head */
/* the connection (_conn.Core and its subclass fast_conn.Conn) */
static Slot k_closed, k_used, k_err_code, k_err_msg, k_nrecv, k_plain, k_status, k_keep;
static Slot k_key, k_head, k_body, k_proto, k_tls, k_t_sent, k_t_first, k_t_end;

/* the rest of what setup() is given */
static PyObject *head_cache;      /* fast_request._CACHE */
static PyObject *base_headers;    /* tuple(client._BASE_HEADER_LIST): the head cache's key */
static PyObject *k6_expected;     /* client.K6_EXPECTED, known by identity */
static PyObject *is_expected;     /* client.is_expected(status, expected) */
static PyObject *interrupted;     /* client.interrupted(elapsed_ms) -> RawResponse */
static PyObject *make_error;      /* fast._error(code, message, sent, received) */
static PyTypeObject *timings_type; /* types.Timings (a tuple subclass) */
static PyObject *make_raw_headers; /* fast_headers.make_raw_headers */
static PyObject *make_raw_response; /* types.make_raw_response */
static PyObject *make_response;    /* types.make_response */
static PyObject *http_kind;       /* metrics.model.HTTP: the record's first field */
static PyObject *retry_codes;     /* fast._RETRY_CODES */
static PyObject *cancelled_error; /* asyncio.CancelledError */

static PyObject *s_GET, *s_scheme_sep, *s_time, *s_send, *s_request, *s_resume, *s_sample_tags, *s_pool;
static PyObject *s_loop, *s_max_response_bytes, *s_retries, *s_discard, *s_put, *s_close;
static PyObject *s_finish, *s_record, *s_floor, *s_offer, *s_throw;
static PyObject *empty_bytes, *empty_str, *zero, *one;
static PyObject *kwnames_resume; /* ("_resume",) */

static int ready;

/* ---- the awaitable ------------------------------------------------------------------ */

enum { INIT, WAIT, DELEGATE, DONE };

typedef struct {
    PyObject_HEAD
    int state;
    int reused;
    PyObject *client, *url, *transport, *pool, *conn, *futiter, *coro, *deadline, *cap;
    long long t0;
    Py_ssize_t sent;
} Get;

static PyTypeObject GetType;

static int
Get_traverse(Get *self, visitproc visit, void *arg)
{
    Py_VISIT(self->client);
    Py_VISIT(self->url);
    Py_VISIT(self->transport);
    Py_VISIT(self->pool);
    Py_VISIT(self->conn);
    Py_VISIT(self->futiter);
    Py_VISIT(self->coro);
    Py_VISIT(self->deadline);
    Py_VISIT(self->cap);
    return 0;
}

static int
Get_clear(Get *self)
{
    Py_CLEAR(self->client);
    Py_CLEAR(self->url);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->pool);
    Py_CLEAR(self->conn);
    Py_CLEAR(self->futiter);
    Py_CLEAR(self->coro);
    Py_CLEAR(self->deadline);
    Py_CLEAR(self->cap);
    return 0;
}

static void
Get_dealloc(Get *self)
{
    PyObject_GC_UnTrack(self);
    Get_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

/* ---- small helpers ------------------------------------------------------------------ */

/* An exception pending while the Python side of a cancellation runs, kept and put back;
 * that code's own failure is reported as unraisable (the cancellation must go on). */
static void
on_interrupted(Get *self)
{
    PyObject *et, *ev, *etb;
    PyErr_Fetch(&et, &ev, &etb);
    PyObject *r = NULL;
    if (self->pool != NULL && self->conn != NULL)
        r = PyObject_CallMethodOneArg(self->pool, s_discard, self->conn);
    if (r != NULL) {
        Py_DECREF(r);
        PyObject *ms = PyFloat_FromDouble((double)(now_ns() - self->t0) / 1e6);
        PyObject *raw = ms == NULL ? NULL : PyObject_CallOneArg(interrupted, ms);
        Py_XDECREF(ms);
        r = NULL;
        if (raw != NULL) {
            PyObject *expected = SLOT(self->client, c_expected);
            PyObject *args[8] = {self->client, s_GET, self->url, Py_None, Py_None, raw,
                                 expected ? expected : Py_None, Py_None};
            r = PyObject_VectorcallMethod(s_record, args, 8 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                          NULL);
            Py_DECREF(raw);
        }
    }
    if (r == NULL)
        PyErr_WriteUnraisable((PyObject *)self);
    Py_XDECREF(r);
    PyErr_Restore(et, ev, etb);
}

static void
finished(Get *self)
{
    self->state = DONE;
    Py_CLEAR(self->futiter);
    Py_CLEAR(self->conn);
    Py_CLEAR(self->coro);
    Py_CLEAR(self->pool);
    Py_CLEAR(self->transport);
    Py_CLEAR(self->deadline);
    Py_CLEAR(self->cap);
}

/* The whole call handed to `client.request("GET", url[, _resume=resume])`; the awaitable
 * forwards to that coroutine from now on. */
static int
delegate(Get *self, PyObject *resume)
{
    PyObject *args[4] = {self->client, s_GET, self->url, resume};
    PyObject *coro = PyObject_VectorcallMethod(
        s_request, args, 3 | PY_VECTORCALL_ARGUMENTS_OFFSET,
        resume != NULL ? kwnames_resume : NULL);
    if (coro == NULL)
        return -1;
    Py_CLEAR(self->futiter);
    Py_CLEAR(self->conn);
    self->coro = coro;
    self->state = DELEGATE;
    return 0;
}

/* delegate(), then run that coroutine up to its first wait (or its end). */
static PySendResult
hand_over(Get *self, PyObject *resume, PyObject **result)
{
    int failed = delegate(self, resume);
    Py_XDECREF(resume);
    if (failed) {
        finished(self);
        *result = NULL;
        return PYGEN_ERROR;
    }
    PySendResult r = PyIter_Send(self->coro, Py_None, result);
    if (r != PYGEN_NEXT)
        finished(self);
    return r;
}

/* ---- the start: the request on a pooled connection, or not the plain case ------------ */

/* 1: written, awaiting the response (WAIT); 0: not the plain case (nothing done); -1 */
static int
start(Get *self)
{
    PyObject *client = self->client, *url = self->url;
    if (!ready || !is_a(client, &c_meter) || !PyUnicode_CheckExact(url))
        return 0;
    long long t0 = now_ns();
    PyObject *meter = SLOT(client, c_meter), *cookies = SLOT(client, c_cookies);
    PyObject *transport = SLOT(client, c_transport), *timeout = SLOT(client, c_timeout);
    PyObject *own_cap = SLOT(client, c_max_bytes);
    if (meter == NULL || cookies == NULL || transport == NULL || timeout == NULL
        || own_cap == NULL || !is_a(meter, &m_limiter) || !is_a(cookies, &j_entries))
        return 0;
    PyObject *entries = SLOT(cookies, j_entries);
    if (SLOT(meter, m_limiter) != Py_None || SLOT(meter, m_trace) != Py_None
        || entries == NULL || !PyDict_CheckExact(entries) || PyDict_GET_SIZE(entries) != 0)
        return 0;
    Py_ssize_t found = PyUnicode_Find(url, s_scheme_sep, 0, PY_SSIZE_T_MAX, 1);
    if (found == -2)
        return -1;
    if (found < 0)
        return 0;
    PyObject *key = PyTuple_Pack(3, s_GET, url, base_headers);
    if (key == NULL)
        return -1;
    PyObject *h = PyDict_GetItemWithError(head_cache, key); /* borrowed */
    Py_DECREF(key);
    if (h == NULL)
        return PyErr_Occurred() ? -1 : 0;
    if (!is_a(h, &h_key))
        return 0;
    PyObject *error_code = SLOT(h, h_error_code), *data = SLOT(h, h_end);
    PyObject *hkey = SLOT(h, h_key);
    if (error_code == NULL || data == NULL || hkey == NULL || !PyBytes_CheckExact(data))
        return 0;
    int bad = PyObject_IsTrue(error_code);
    if (bad != 0)
        return bad < 0 ? -1 : 0;
    Py_INCREF(h); /* the pool's calls below may run code that clears the cache */
    int ret = -1;
    PyObject *pool = NULL, *loop = NULL, *conn = NULL, *cap = NULL, *now = NULL;
    PyObject *deadline = NULL, *fut = NULL;
    pool = PyObject_GetAttr(transport, s_pool);
    loop = pool == NULL ? NULL : PyObject_GetAttr(transport, s_loop);
    if (loop == NULL)
        goto out;
    ret = 0;
    if (loop == Py_None || !is_a(pool, &p_idle) || SLOT(pool, p_idle) == NULL
        || !PyDict_CheckExact(SLOT(pool, p_idle)))
        goto out;
    PyObject *idle = PyDict_GetItemWithError(SLOT(pool, p_idle), hkey); /* borrowed */
    if (idle == NULL) {
        ret = PyErr_Occurred() ? -1 : 0;
        goto out;
    }
    Py_ssize_t n = PyList_CheckExact(idle) ? PyList_GET_SIZE(idle) : 0;
    if (n == 0)
        goto out;
    conn = Py_NewRef(PyList_GET_ITEM(idle, n - 1));
    if (!is_a(conn, &k_closed)) {
        Py_CLEAR(conn); /* not ours to take: left where it was */
        goto out;
    }
    ret = -1;
    if (PyList_SetSlice(idle, n - 1, n, NULL) < 0)
        goto out;
    if (SLOT(conn, k_closed) != Py_False) { /* closed while idle: the Python path takes one */
        PyObject *r = PyObject_CallMethodOneArg(pool, s_discard, conn);
        if (r == NULL)
            goto out;
        Py_DECREF(r);
        ret = 0;
        goto out;
    }
    cap = own_cap != Py_None ? Py_NewRef(own_cap)
                             : PyObject_GetAttr(transport, s_max_response_bytes);
    now = cap == NULL ? NULL : PyObject_CallMethodNoArgs(loop, s_time);
    deadline = now == NULL ? NULL : PyNumber_Add(now, timeout);
    if (deadline == NULL)
        goto out;
    self->reused = SLOT(conn, k_used) == Py_True;
    PyObject *args[5] = {conn, data, Py_False, deadline, cap};
    fut = PyObject_VectorcallMethod(s_send, args, 5 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
    if (fut == NULL)
        goto out;
    PyAsyncMethods *am = Py_TYPE(fut)->tp_as_async;
    if (am == NULL || am->am_await == NULL) {
        PyErr_SetString(PyExc_TypeError, "the connection's send() did not return a future");
        goto out;
    }
    self->futiter = am->am_await(fut);
    if (self->futiter == NULL)
        goto out;
    self->t0 = t0;
    self->sent = PyBytes_GET_SIZE(data);
    self->conn = conn;
    self->pool = pool;
    self->transport = Py_NewRef(transport);
    self->deadline = deadline;
    self->cap = cap;
    conn = pool = deadline = cap = NULL;
    self->state = WAIT;
    ret = 1;
out:
    Py_DECREF(h);
    Py_XDECREF(pool);
    Py_XDECREF(loop);
    Py_XDECREF(conn);
    Py_XDECREF(cap);
    Py_XDECREF(now);
    Py_XDECREF(deadline);
    Py_XDECREF(fut);
    return ret;
}

/* ---- the end: the Response, or the outcome handed to the client's Python --------------- */

static inline int
is_redirect(long status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* conn back to the pool (FastTransport.finish's end) */
static int
release(Get *self, PyObject *conn)
{
    PyObject *pool = self->pool, *r;
    if (SLOT(conn, k_keep) == Py_True && SLOT(conn, k_closed) == Py_False) {
        PyObject *idle = PyDict_GetItemWithError(SLOT(pool, p_idle), SLOT(conn, k_key));
        if (idle == NULL && PyErr_Occurred())
            return -1;
        PyObject *waiters = SLOT(pool, p_waiters);
        int waiting = waiters == NULL ? 1 : PyObject_IsTrue(waiters);
        if (waiting < 0)
            return -1;
        if (idle != NULL && PyList_CheckExact(idle) && !waiting)
            return PyList_Append(idle, conn);
        r = PyObject_CallMethodOneArg(pool, s_put, conn);
    }
    else {
        r = PyObject_CallMethodNoArgs(conn, s_close);
        if (r != NULL) {
            Py_DECREF(r);
            r = PyObject_CallMethodOneArg(pool, s_discard, conn);
        }
    }
    Py_XDECREF(r);
    return r == NULL ? -1 : 0;
}

/* Core.timings(t0, t0, t0, 0, 0): a pooled connection, no blocked/connecting/tls time */
static PyObject *
timings_of(Get *self, PyObject *conn, double ms[6])
{
    PyObject *a = SLOT(conn, k_t_sent), *b = SLOT(conn, k_t_first), *c = SLOT(conn, k_t_end);
    if (a == NULL || b == NULL || c == NULL) {
        PyErr_SetString(PyExc_AttributeError, "a time field is unset");
        return NULL;
    }
    long long t_sent = as_int64(a), t_first = as_int64(b), t_end = as_int64(c);
    if (PyErr_Occurred())
        return NULL;
    if (t_sent == 0)
        t_sent = t_first;
    long long t0 = self->t0;
    ms[0] = (double)(t0 - t0) / 1e6;
    ms[1] = 0.0;
    ms[2] = 0.0;
    ms[3] = (double)(t_sent - t0) / 1e6;
    ms[4] = (double)(t_first - t_sent) / 1e6;
    ms[5] = (double)(t_end - t_first) / 1e6;
    return float_tuple(timings_type, ms, 6);
}

/* the stale keep-alive connection's retry, or the error, for the client's Python */
static PyObject *
failed_outcome(Get *self, PyObject *conn, PyObject *err)
{
    PyObject *r = PyObject_CallMethodOneArg(self->pool, s_discard, conn);
    if (r == NULL)
        return NULL;
    Py_DECREF(r);
    PyObject *nrecv = SLOT(conn, k_nrecv), *msg = SLOT(conn, k_err_msg);
    if (nrecv == NULL || msg == NULL) {
        PyErr_SetString(PyExc_AttributeError, "nrecv/err_msg");
        return NULL;
    }
    int got = PyObject_IsTrue(nrecv);
    int retry = got < 0 ? -1 : (self->reused && !got ? PySet_Contains(retry_codes, err) : 0);
    if (retry < 0)
        return NULL;
    PyObject *sent = PyLong_FromSsize_t(self->sent);
    if (sent == NULL)
        return NULL;
    if (!retry) {
        PyObject *args[4] = {err, msg, sent, nrecv};
        r = PyObject_Vectorcall(make_error, args, 4, NULL);
        Py_DECREF(sent);
        return r;
    }
    /* self.retries += 1, then (t0, sent, deadline) for FastTransport.exchange(retry=) */
    PyObject *n = PyObject_GetAttr(self->transport, s_retries);
    PyObject *n1 = n == NULL ? NULL : PyNumber_Add(n, one);
    Py_XDECREF(n);
    int bad = n1 == NULL ? -1 : PyObject_SetAttr(self->transport, s_retries, n1);
    Py_XDECREF(n1);
    PyObject *t0 = bad ? NULL : PyLong_FromLongLong(self->t0);
    r = t0 == NULL ? NULL : PyTuple_Pack(3, t0, sent, self->deadline);
    Py_XDECREF(t0);
    Py_DECREF(sent);
    return r;
}

/* The response has come (or the connection failed): finish here or hand over. */
static PySendResult
complete(Get *self, PyObject **result)
{
    PyObject *conn = self->conn, *client = self->client;
    PyObject *err = SLOT(conn, k_err_code), *status_obj = SLOT(conn, k_status);
    PyObject *plain = SLOT(conn, k_plain);
    if (err == NULL || status_obj == NULL || plain == NULL || !PyLong_CheckExact(status_obj)) {
        PyErr_SetString(PyExc_AttributeError, "the connection's err_code/status/plain");
        goto error;
    }
    int bad = PyObject_IsTrue(err);
    if (bad < 0)
        goto error;
    if (bad) {
        PyObject *resume = failed_outcome(self, conn, err);
        if (resume == NULL)
            goto error;
        return hand_over(self, resume, result);
    }
    long status = PyLong_AsLong(status_obj);
    if (status == -1 && PyErr_Occurred())
        goto error;
    if (plain != Py_True || status < 200 || is_redirect(status)) {
        /* FastTransport.finish builds (and decodes) it; the client's Python does the rest */
        PyObject *t0 = PyLong_FromLongLong(self->t0), *sent = PyLong_FromSsize_t(self->sent);
        PyObject *resume = NULL;
        if (t0 != NULL && sent != NULL) {
            PyObject *args[10] = {self->transport, conn, Py_None, self->cap, t0, t0, t0,
                                  zero, zero, sent};
            resume = PyObject_VectorcallMethod(s_finish, args,
                                               10 | PY_VECTORCALL_ARGUMENTS_OFFSET, NULL);
        }
        Py_XDECREF(t0);
        Py_XDECREF(sent);
        if (resume == NULL)
            goto error;
        return hand_over(self, resume, result);
    }

    /* the plain response: FastTransport.finish's share first */
    PyObject *head = SLOT(conn, k_head), *body = SLOT(conn, k_body), *nrecv = SLOT(conn, k_nrecv);
    PyObject *proto = SLOT(conn, k_proto), *tls = SLOT(conn, k_tls);
    if (head == NULL || body == NULL || nrecv == NULL || proto == NULL || tls == NULL) {
        PyErr_SetString(PyExc_AttributeError, "the connection's head/body/nrecv/proto");
        goto error;
    }
    PyObject *headers = NULL, *timings = NULL, *ok = NULL, *key = NULL, *response = NULL;
    PyObject *ts = NULL, *raw = NULL;
    PyObject *content = body == Py_None ? empty_bytes : body;
    PyObject *hbytes = head == Py_None ? empty_bytes : head;
    Py_INCREF(content);
    Py_INCREF(hbytes);
    Py_INCREF(nrecv);
    Py_INCREF(proto);
    Py_INCREF(tls);
    Py_INCREF(status_obj);
    double ms[6];
    if (release(self, conn) < 0)
        goto out;
    PyObject *hargs[4] = {hbytes, Py_None, Py_False, Py_False};
    headers = PyObject_Vectorcall(make_raw_headers, hargs, 4, NULL);
    timings = headers == NULL ? NULL : timings_of(self, conn, ms);
    if (timings == NULL)
        goto out;

    /* HttpClient._record's share */
    PyObject *meter = SLOT(client, c_meter), *expected = SLOT(client, c_expected);
    PyObject *cache = SLOT(client, c_tag_cache);
    if (meter == NULL || expected == NULL || cache == NULL || !PyDict_CheckExact(cache)) {
        PyErr_SetString(PyExc_AttributeError, "the client's meter/expected/_tag_cache");
        goto out;
    }
    if (expected == k6_expected)
        ok = Py_NewRef(200 <= status && status <= 399 ? Py_True : Py_False);
    else if (expected == Py_None)
        ok = Py_NewRef(Py_None);
    else {
        PyObject *args[2] = {status_obj, expected};
        PyObject *r = PyObject_Vectorcall(is_expected, args, 2, NULL);
        int t = r == NULL ? -1 : PyObject_IsTrue(r);
        Py_XDECREF(r);
        if (t < 0)
            goto out;
        ok = Py_NewRef(t ? Py_True : Py_False);
    }
    PyObject *tags_src = SLOT(meter, m_tags);
    PyObject *base = tags_src == NULL ? NULL : PyObject_GetAttr(tags_src, s_sample_tags);
    if (base == NULL)
        goto out;
    key = PyTuple_New(8);
    if (key == NULL) {
        Py_DECREF(base);
        goto out;
    }
    PyTuple_SET_ITEM(key, 0, base);
    PyTuple_SET_ITEM(key, 1, Py_NewRef(s_GET));
    PyTuple_SET_ITEM(key, 2, Py_NewRef(self->url));
    PyTuple_SET_ITEM(key, 3, Py_NewRef(Py_None));
    PyTuple_SET_ITEM(key, 4, Py_NewRef(status_obj));
    PyTuple_SET_ITEM(key, 5, Py_NewRef(proto));
    PyTuple_SET_ITEM(key, 6, Py_NewRef(ok));
    PyTuple_SET_ITEM(key, 7, Py_NewRef(tls));
    ts = PyDict_GetItemWithError(cache, key); /* borrowed until the INCREF below */
    if (ts == NULL) {
        if (PyErr_Occurred())
            goto out;
        /* a tag set not made yet: hand the RawResponse over */
        PyObject *sent = PyLong_FromSsize_t(self->sent);
        if (sent == NULL)
            goto out;
        PyObject *args[10] = {status_obj, headers, content, proto, timings, empty_str, zero,
                              sent, nrecv, tls};
        raw = PyObject_Vectorcall(make_raw_response, args, 10, NULL);
        Py_DECREF(sent);
        goto out;
    }
    Py_INCREF(ts);
    {
        PyObject *sent = PyLong_FromSsize_t(self->sent);
        PyObject *a = sent == NULL ? NULL : PyNumber_Add(SLOT(meter, m_sent), sent);
        Py_XDECREF(sent);
        if (slot_put(meter, m_sent, a) < 0
            || slot_put(meter, m_received, PyNumber_Add(SLOT(meter, m_received), nrecv)) < 0) {
            goto out;
        }
    }
    double duration = ms[3] + ms[4] + ms[5];
    PyObject *recorder = SLOT(meter, m_recorder);
    PyObject *records = recorder == NULL || !is_a(recorder, &r_records)
                            ? NULL : SLOT(recorder, r_records);
    if (records == NULL || !PyList_CheckExact(records)) {
        PyErr_SetString(PyExc_AttributeError, "the meter's recorder.records");
        goto out;
    }
    PyObject *rec = PyTuple_New(11);
    if (rec == NULL)
        goto out;
    PyTuple_SET_ITEM(rec, 0, Py_NewRef(http_kind));
    PyTuple_SET_ITEM(rec, 2, Py_NewRef(ts));
    PyTuple_SET_ITEM(rec, 10, Py_NewRef(ok == Py_None ? Py_None : (ok == Py_True ? zero : one)));
    PyObject *v = PyLong_FromLongLong(now_ns());
    if (v == NULL) {
        Py_DECREF(rec);
        goto out;
    }
    PyTuple_SET_ITEM(rec, 1, v);
    double values[7] = {duration, ms[0], ms[1], ms[2], ms[3], ms[4], ms[5]};
    for (int i = 0; i < 7; i++) {
        if ((v = PyFloat_FromDouble(values[i])) == NULL) {
            Py_DECREF(rec);
            goto out;
        }
        PyTuple_SET_ITEM(rec, 3 + i, v);
    }
    int appended = PyList_Append(records, rec);
    Py_DECREF(rec);
    if (appended < 0)
        goto out;
    PyObject *slowest = SLOT(meter, m_slowest);
    if (slowest != NULL && slowest != Py_None) { /* only the N slowest so far */
        PyObject *floor = PyObject_GetAttr(slowest, s_floor);
        PyObject *d = floor == NULL ? NULL : PyFloat_FromDouble(duration);
        int above = d == NULL ? -1 : PyObject_RichCompareBool(d, floor, Py_GT);
        Py_XDECREF(floor);
        PyObject *r = NULL;
        if (above > 0) {
            PyObject *args[7] = {slowest, d, s_GET, self->url, ts, status_obj, Py_None};
            r = PyObject_VectorcallMethod(s_offer, args, 7 | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                          NULL);
        }
        Py_XDECREF(d);
        if (above < 0 || (above > 0 && r == NULL))
            goto out;
        Py_XDECREF(r);
    }
    Py_CLEAR(ts);

    /* request()'s share: the Response (a plain response has no cookie to read) */
    {
        PyObject *code = status >= 400 ? PyLong_FromLong(1000 + status) : Py_NewRef(zero);
        PyObject *history = code == NULL ? NULL : PyList_New(0);
        if (history != NULL) {
            PyObject *args[10] = {status_obj, headers, content, self->url, s_GET, proto, timings,
                                  empty_str, code, history};
            response = PyObject_Vectorcall(make_response, args, 10, NULL);
        }
        Py_XDECREF(code);
        Py_XDECREF(history);
        if (response == NULL)
            goto out;
    }
out:
    Py_XDECREF(ts);
    Py_XDECREF(headers);
    Py_XDECREF(timings);
    Py_XDECREF(ok);
    Py_XDECREF(key);
    Py_DECREF(content);
    Py_DECREF(hbytes);
    Py_DECREF(nrecv);
    Py_DECREF(proto);
    Py_DECREF(tls);
    Py_DECREF(status_obj);
    if (raw != NULL) /* the client's Python makes the tag set (and the rest) */
        return hand_over(self, raw, result);
    if (response != NULL) {
        finished(self);
        *result = response;
        return PYGEN_RETURN;
    }
error:
    finished(self);
    *result = NULL;
    return PYGEN_ERROR;
}

/* ---- the coroutine protocol ------------------------------------------------------------ */

static PySendResult
Get_am_send(Get *self, PyObject *arg, PyObject **result)
{
    PySendResult r;
    switch (self->state) {
    case INIT: {
        if (arg != Py_None) {
            PyErr_SetString(PyExc_TypeError, "can't send non-None value to a just-started "
                                             "coroutine");
            finished(self);
            *result = NULL;
            return PYGEN_ERROR;
        }
        int started = start(self);
        if (started < 0) {
            finished(self);
            *result = NULL;
            return PYGEN_ERROR;
        }
        if (started == 0)
            return hand_over(self, NULL, result);
        /* fall through: the request is out, wait for it */
    }
    case WAIT:
        r = PyIter_Send(self->futiter, arg, result);
        if (r == PYGEN_NEXT)
            return r;
        if (r == PYGEN_ERROR) {
            if (PyErr_ExceptionMatches(cancelled_error))
                on_interrupted(self);
            finished(self);
            return r;
        }
        Py_DECREF(*result); /* the future's None */
        Py_CLEAR(self->futiter);
        return complete(self, result);
    case DELEGATE:
        r = PyIter_Send(self->coro, arg, result);
        if (r != PYGEN_NEXT)
            finished(self);
        return r;
    default:
        PyErr_SetString(PyExc_RuntimeError, "cannot reuse already awaited coroutine");
        *result = NULL;
        return PYGEN_ERROR;
    }
}


static PyObject *
Get_iternext(Get *self)
{
    PyObject *result = NULL;
    PySendResult r = Get_am_send(self, Py_None, &result); /* before `result` is read */
    return as_iterator_step(r, result);
}

static PyObject *
Get_send(Get *self, PyObject *arg)
{
    PyObject *result = NULL;
    PySendResult r = Get_am_send(self, arg, &result); /* before `result` is read */
    return as_iterator_step(r, result);
}


static PyObject *
Get_throw(Get *self, PyObject *const *args, Py_ssize_t nargs)
{
    if (nargs < 1 || nargs > 3) {
        PyErr_SetString(PyExc_TypeError, "throw expected 1 to 3 arguments");
        return NULL;
    }
    if (self->state == DELEGATE) {
        PyObject *fwd[4] = {self->coro, args[0], nargs > 1 ? args[1] : NULL,
                            nargs > 2 ? args[2] : NULL};
        PyObject *r = PyObject_VectorcallMethod(s_throw, fwd,
                                                (nargs + 1) | PY_VECTORCALL_ARGUMENTS_OFFSET,
                                                NULL);
        if (r == NULL)
            finished(self);
        return r;
    }
    raise_thrown(args, nargs);
    if (self->state == WAIT && PyErr_ExceptionMatches(cancelled_error))
        on_interrupted(self); /* the VU stopped with the request in flight */
    finished(self);
    return NULL;
}

static PyObject *
Get_close(Get *self, PyObject *unused)
{
    (void)unused;
    if (self->state == DELEGATE) {
        PyObject *coro = Py_NewRef(self->coro);
        finished(self);
        PyObject *r = PyObject_CallMethod(coro, "close", NULL);
        Py_DECREF(coro);
        return r;
    }
    finished(self);
    Py_RETURN_NONE;
}

static PyObject *
Get_await(Get *self)
{
    return Py_NewRef(self);
}

static PyMethodDef Get_methods[] = {
    {"send", (PyCFunction)Get_send, METH_O, "send(value): resume; StopIteration at the end."},
    {"throw", (PyCFunction)(void (*)(void))Get_throw, METH_FASTCALL,
     "throw(exc): raise exc where the request waits (a cancellation records it interrupted)."},
    {"close", (PyCFunction)Get_close, METH_NOARGS, "close(): stop without a result."},
    {NULL},
};

static PyAsyncMethods Get_async = {
    .am_await = (unaryfunc)Get_await,
    .am_send = (sendfunc)Get_am_send,
};

static PyTypeObject GetType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "loadgen.net._get.Get",
    .tp_basicsize = sizeof(Get),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC,
    .tp_doc = "One plain GET in flight (see get()): awaitable, and a coroutine to asyncio.",
    .tp_as_async = &Get_async,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)Get_iternext,
    .tp_methods = Get_methods,
    .tp_traverse = (traverseproc)Get_traverse,
    .tp_clear = (inquiry)Get_clear,
    .tp_dealloc = (destructor)Get_dealloc,
};

/* ---- the module ------------------------------------------------------------------------ */

static PyObject *
get(PyObject *module, PyObject *const *args, Py_ssize_t nargs)
{
    (void)module;
    if (nargs != 2) {
        PyErr_SetString(PyExc_TypeError, "get(client, url) takes 2 arguments");
        return NULL;
    }
    Get *self = PyObject_GC_New(Get, &GetType);
    if (self == NULL)
        return NULL;
    self->state = INIT;
    self->reused = 0;
    self->client = Py_NewRef(args[0]);
    self->url = Py_NewRef(args[1]);
    self->transport = self->pool = self->conn = self->futiter = self->coro = NULL;
    self->deadline = self->cap = NULL;
    self->t0 = 0;
    self->sent = 0;
    PyObject_GC_Track(self);
    return (PyObject *)self;
}

static int
take(PyObject *config, const char *name, PyObject **out)
{
    PyObject *v = PyDict_GetItemString(config, name); /* borrowed */
    if (v == NULL) {
        PyErr_Format(PyExc_KeyError, "setup() needs %s", name);
        return -1;
    }
    Py_XSETREF(*out, Py_NewRef(v));
    return 0;
}

static int
slots_of(PyObject *config, const char *cls_name, int subtypes, const char *const *names,
         Slot *const *out)
{
    PyObject *cls = PyDict_GetItemString(config, cls_name);
    if (cls == NULL) {
        PyErr_Format(PyExc_KeyError, "setup() needs %s", cls_name);
        return -1;
    }
    for (int i = 0; names[i] != NULL; i++)
        if (find_slot(cls, names[i], subtypes, out[i]) < 0)
            return -1;
    return 0;
}

static PyObject *
setup(PyObject *module, PyObject *config)
{
    (void)module;
    if (!PyDict_Check(config)) {
        PyErr_SetString(PyExc_TypeError, "setup(config) takes a dict");
        return NULL;
    }
    ready = 0;
    static const char *const client_names[] = {"meter", "transport", "cookies", "timeout",
                                               "expected", "_tag_cache", "max_response_bytes",
                                               NULL};
    static Slot *const client_slots[] = {&c_meter, &c_transport, &c_cookies, &c_timeout,
                                         &c_expected, &c_tag_cache, &c_max_bytes};
    static const char *const meter_names[] = {"recorder", "tags", "limiter", "bytes_sent",
                                              "bytes_received", "slowest", "trace", NULL};
    static Slot *const meter_slots[] = {&m_recorder, &m_tags, &m_limiter, &m_sent,
                                        &m_received, &m_slowest, &m_trace};
    static const char *const jar_names[] = {"entries", NULL};
    static Slot *const jar_slots[] = {&j_entries};
    static const char *const recorder_names[] = {"records", NULL};
    static Slot *const recorder_slots[] = {&r_records};
    static const char *const pool_names[] = {"idle", "waiters", NULL};
    static Slot *const pool_slots[] = {&p_idle, &p_waiters};
    static const char *const head_names[] = {"key", "end", "error_code", NULL};
    static Slot *const head_slots[] = {&h_key, &h_end, &h_error_code};
    static const char *const conn_names[] = {"closed", "used", "err_code", "err_msg", "nrecv",
                                             "plain", "status", "keep", "key", "head", "body",
                                             "proto", "tls_version", "t_sent", "t_first",
                                             "t_end", NULL};
    static Slot *const conn_slots[] = {&k_closed, &k_used, &k_err_code, &k_err_msg, &k_nrecv,
                                       &k_plain, &k_status, &k_keep, &k_key, &k_head, &k_body,
                                       &k_proto, &k_tls, &k_t_sent, &k_t_first, &k_t_end};
    if (slots_of(config, "HttpClient", 0, client_names, client_slots) < 0
        || slots_of(config, "Meter", 0, meter_names, meter_slots) < 0
        || slots_of(config, "CookieJar", 0, jar_names, jar_slots) < 0
        || slots_of(config, "Recorder", 0, recorder_names, recorder_slots) < 0
        || slots_of(config, "ConnectionPool", 0, pool_names, pool_slots) < 0
        || slots_of(config, "Head", 0, head_names, head_slots) < 0
        || slots_of(config, "Core", 1, conn_names, conn_slots) < 0)
        return NULL;
    PyObject *tt = NULL;
    if (take(config, "head_cache", &head_cache) < 0
        || take(config, "base_headers", &base_headers) < 0
        || take(config, "K6_EXPECTED", &k6_expected) < 0
        || take(config, "is_expected", &is_expected) < 0
        || take(config, "interrupted", &interrupted) < 0
        || take(config, "error", &make_error) < 0
        || take(config, "make_raw_headers", &make_raw_headers) < 0
        || take(config, "make_raw_response", &make_raw_response) < 0
        || take(config, "make_response", &make_response) < 0
        || take(config, "HTTP", &http_kind) < 0
        || take(config, "retry_codes", &retry_codes) < 0
        || take(config, "CancelledError", &cancelled_error) < 0
        || take(config, "Timings", &tt) < 0)
        return NULL;
    if (!PyDict_CheckExact(head_cache) || !PyAnySet_Check(retry_codes) || !PyType_Check(tt)
        || !PyType_IsSubtype((PyTypeObject *)tt, &PyTuple_Type)) {
        Py_DECREF(tt);
        PyErr_SetString(PyExc_TypeError, "head_cache must be a dict, retry_codes a set, "
                                         "Timings a tuple subclass");
        return NULL;
    }
    Py_XSETREF(timings_type, (PyTypeObject *)tt);
    ready = 1;
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"get", (PyCFunction)(void (*)(void))get, METH_FASTCALL,
     "get(client, url): the awaitable plain GET (what client.request('GET', url) returns)."},
    {"setup", setup, METH_O,
     "setup(config): the classes whose slots are read and the Python it hands over to."},
    {NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_get",
    .m_doc = "The plain GET of the HTTP client, from the pooled connection to the record.",
    .m_size = -1, .m_methods = module_methods,
};

PyMODINIT_FUNC
PyInit__get(void)
{
    if (PyType_Ready(&GetType) < 0)
        return NULL;
#define INTERN(var, text) if ((var = PyUnicode_InternFromString(text)) == NULL) return NULL;
    INTERN(s_GET, "GET")
    INTERN(s_scheme_sep, "://")
    INTERN(s_time, "time")
    INTERN(s_send, "send")
    INTERN(s_request, "request")
    INTERN(s_resume, "_resume")
    INTERN(s_sample_tags, "sample_tags")
    INTERN(s_pool, "pool")
    INTERN(s_loop, "_loop")
    INTERN(s_max_response_bytes, "max_response_bytes")
    INTERN(s_retries, "retries")
    INTERN(s_discard, "discard")
    INTERN(s_put, "put")
    INTERN(s_close, "close")
    INTERN(s_finish, "finish")
    INTERN(s_record, "_record")
    INTERN(s_floor, "floor")
    INTERN(s_offer, "offer")
    INTERN(s_throw, "throw")
    INTERN(empty_str, "")
#undef INTERN
    if ((empty_bytes = PyBytes_FromStringAndSize("", 0)) == NULL
        || (zero = PyLong_FromLong(0)) == NULL || (one = PyLong_FromLong(1)) == NULL
        || (kwnames_resume = PyTuple_Pack(1, s_resume)) == NULL)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&GetType);
    if (PyModule_AddObject(m, "Get", (PyObject *)&GetType) < 0) {
        Py_DECREF(&GetType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
