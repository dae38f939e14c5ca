/* Build an object of a slotted class from positional values, in C (loadgen/net/types.py,
 * slots_maker).
 *
 * Why C: every HTTP request builds a RawResponse, a Response and a RawHeaders. The Python
 * makers (object.__new__ and one slot store per field, in a generated function) already
 * cost a third of a class call, but each is still a Python frame and ~30 bytecodes: about
 * 90 bytecodes and four frames per iteration (benchmarks/bench_instructions.py). Here the
 * object is allocated and its slots filled in one C call.
 *
 * Maker(cls, names) -> a callable taking exactly len(names) positional values
 *   every name must be a writable object slot of cls (a member descriptor of cls or of a
 *   base, as __slots__ and dataclass(slots=True) make them); the call allocates cls as
 *   object.__new__(cls) would (tp_alloc: no __init__) and stores value i in slot names[i].
 *   Slots not named are left unset, as with the Python maker.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <structmember.h>

#define MAX_SLOTS 32

typedef struct {
    PyObject_HEAD
    PyTypeObject *cls;
    Py_ssize_t n;
    Py_ssize_t offsets[MAX_SLOTS];
    vectorcallfunc vectorcall;
} Maker;

static PyObject *
Maker_call(Maker *self, PyObject *const *args, size_t nargsf, PyObject *kwnames)
{
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    if ((kwnames != NULL && PyTuple_GET_SIZE(kwnames) != 0) || nargs != self->n) {
        PyErr_Format(PyExc_TypeError, "the maker of %s takes exactly %zd positional values",
                     self->cls->tp_name, self->n);
        return NULL;
    }
    PyObject *o = self->cls->tp_alloc(self->cls, 0);
    if (o == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < nargs; i++) {
        PyObject **slot = (PyObject **)((char *)o + self->offsets[i]);
        Py_INCREF(args[i]);
        *slot = args[i]; /* a fresh object: every slot is NULL */
    }
    return o;
}

static PyObject *
Maker_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    PyObject *cls, *names;
    static char *kwlist[] = {"cls", "names", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O!O!:Maker", kwlist, &PyType_Type, &cls,
                                     &PyTuple_Type, &names))
        return NULL;
    Py_ssize_t n = PyTuple_GET_SIZE(names);
    if (n > MAX_SLOTS) {
        PyErr_Format(PyExc_ValueError, "at most %d slots", MAX_SLOTS);
        return NULL;
    }
    PyTypeObject *t = (PyTypeObject *)cls;
    if (t->tp_alloc == NULL) {
        PyErr_Format(PyExc_TypeError, "%s cannot be allocated", t->tp_name);
        return NULL;
    }
    Maker *self = (Maker *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    Py_INCREF(cls);
    self->cls = t;
    self->n = n;
    self->vectorcall = (vectorcallfunc)Maker_call;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *name = PyTuple_GET_ITEM(names, i);
        PyObject *descr = PyUnicode_Check(name) ? PyObject_GetAttr(cls, name) : NULL;
        if (descr == NULL) {
            if (!PyErr_Occurred())
                PyErr_SetString(PyExc_TypeError, "slot names must be str");
            Py_DECREF(self);
            return NULL;
        }
        int ok = Py_IS_TYPE(descr, &PyMemberDescr_Type);
        PyMemberDef *m = ok ? ((PyMemberDescrObject *)descr)->d_member : NULL;
        ok = ok && m->type == T_OBJECT_EX && !(m->flags & READONLY)
             && PyType_IsSubtype(t, ((PyDescrObject *)descr)->d_type);
        Py_DECREF(descr);
        if (!ok) {
            PyErr_Format(PyExc_TypeError, "%R is not a writable object slot of %s", name,
                         t->tp_name);
            Py_DECREF(self);
            return NULL;
        }
        self->offsets[i] = m->offset;
    }
    return (PyObject *)self;
}

static int
Maker_traverse(Maker *self, visitproc visit, void *arg)
{
    Py_VISIT(self->cls);
    return 0;
}

static int
Maker_clear(Maker *self)
{
    Py_CLEAR(self->cls);
    return 0;
}

static void
Maker_dealloc(Maker *self)
{
    PyObject_GC_UnTrack(self);
    Maker_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyTypeObject MakerType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "loadgen.net._maker.Maker",
    .tp_basicsize = sizeof(Maker),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_HAVE_VECTORCALL,
    .tp_doc = "Maker(cls, names): cls from positional slot values, without __init__.",
    .tp_new = Maker_new,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(Maker, vectorcall),
    .tp_traverse = (traverseproc)Maker_traverse,
    .tp_clear = (inquiry)Maker_clear,
    .tp_dealloc = (destructor)Maker_dealloc,
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, .m_name = "_maker",
    .m_doc = "Slotted objects from positional values, in one C call.", .m_size = -1,
};

PyMODINIT_FUNC
PyInit__maker(void)
{
    if (PyType_Ready(&MakerType) < 0)
        return NULL;
    PyObject *m = PyModule_Create(&module);
    if (m == NULL)
        return NULL;
    Py_INCREF(&MakerType);
    if (PyModule_AddObject(m, "Maker", (PyObject *)&MakerType) < 0) {
        Py_DECREF(&MakerType);
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
