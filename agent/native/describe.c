/* Descriptions: describe() of summarize.py for what events carry most (classes, their
 * instances, functions, methods, frames, code objects, built-in functions), as the
 * EXT_OBJECT text the Python side would give.  Texts of classes, instances and
 * functions are cached per object, by weak reference, and confirmed before reuse.
 * Part of module.c's translation unit.
 */

/* An EXT_OBJECT description from a C string. */
static int
described(Buffer *b, const char *text)
{
    Py_ssize_t n = (Py_ssize_t)strlen(text);
    return pack_ext_header(b, EXT_OBJECT, n) < 0 ? -1 : put(b, text, n);
}

/* summarize.py's _qualified(): "module.qualname", or the qualname alone. */
static PyObject *
qualified(PyObject *module, PyObject *qualname)
{
    if (qualname == NULL || !PyUnicode_CheckExact(qualname))
        return NULL;
    if (module != NULL && PyUnicode_CheckExact(module)
        && PyUnicode_CompareWithASCIIString(module, "builtins") != 0
        && PyUnicode_CompareWithASCIIString(module, "__main__") != 0)
        return PyUnicode_FromFormat("%U.%U", module, qualname);
    Py_INCREF(qualname);
    return qualname;
}

static int
pack_described_text(Buffer *b, PyObject *text)
{
    Py_ssize_t n;
    const char *s = PyUnicode_AsUTF8AndSize(text, &n);
    if (s == NULL)
        return -1;
    return pack_ext_header(b, EXT_OBJECT, n) < 0 ? -1 : put(b, s, n);
}

static PyObject *lookup_probe; /* "__module__", interned */

/* CPython resets a class's version tag whenever the class or one of its bases changes
   (a name, the bases, any attribute): a text cached with the tag is valid while it is. */
static unsigned int
version_tag(PyTypeObject *t)
{
#ifdef Py_TPFLAGS_VALID_VERSION_TAG
    if (!PyType_HasFeature(t, Py_TPFLAGS_VALID_VERSION_TAG))
        return 0;
#endif
    if (t->tp_version_tag == 0) {
#if PY_VERSION_HEX >= 0x030C0000
        PyUnstable_Type_AssignVersionTag(t);
#else
        _PyType_Lookup(t, lookup_probe); /* assigns a tag as it caches the look-up */
#endif
    }
#ifdef Py_TPFLAGS_VALID_VERSION_TAG
    if (!PyType_HasFeature(t, Py_TPFLAGS_VALID_VERSION_TAG))
        return 0;
#endif
    return t->tp_version_tag;
}

/* The object a weak reference points to (borrowed, only compared), or NULL. */
static PyObject *
weak_target(PyObject *ref)
{
#if PY_VERSION_HEX >= 0x030D0000
    PyObject *obj = NULL;
    if (PyWeakref_GetRef(ref, &obj) < 0) {
        PyErr_Clear();
        return NULL;
    }
    Py_XDECREF(obj); /* the caller holds the object it compares with */
    return obj;
#else
    PyObject *obj = PyWeakref_GET_OBJECT(ref);
    return obj == Py_None ? NULL : obj;
#endif
}

static DescriptionSlot *
slot_for(Agent *self, PyObject *key, int kind)
{
    uintptr_t h = ((uintptr_t)key >> 4) * 0x9E3779B1u + (uintptr_t)kind;
    return &self->described[(h >> 7) & (DESCRIPTION_SLOTS - 1)];
}

static void
slot_clear(DescriptionSlot *s)
{
    Py_CLEAR(s->ref);
    Py_CLEAR(s->qualname);
    Py_CLEAR(s->module);
    PyMem_RawFree(s->bytes);
    s->bytes = NULL;
    s->len = 0;
    s->key = NULL;
    s->kind = 0;
    s->fallback = 0;
}

static int
slot_valid(DescriptionSlot *s, PyObject *key, int kind)
{
    if (s->key != key || s->kind != kind || s->ref == NULL || weak_target(s->ref) != key)
        return 0;
    if (kind == KIND_CLASS || kind == KIND_INSTANCE) {
        unsigned int tag = version_tag((PyTypeObject *)key);
        return tag != 0 && tag == s->tag;
    }
    PyFunctionObject *f = (PyFunctionObject *)key;
    return f->func_qualname == s->qualname && f->func_module == s->module;
}

/* Remember what was encoded for key (bytes[start:] of b), when it can be confirmed
   later; otherwise remember nothing. */
static void
slot_store(DescriptionSlot *s, PyObject *key, int kind, Buffer *b, Py_ssize_t start,
           int fallback)
{
    unsigned int tag = 0;
    if (kind == KIND_CLASS || kind == KIND_INSTANCE) {
        tag = version_tag((PyTypeObject *)key);
        if (tag == 0)
            return;
    }
    else {
        PyFunctionObject *f = (PyFunctionObject *)key;
        if (f->func_module != NULL && !PyUnicode_CheckExact(f->func_module))
            return; /* only strings are held, they keep nothing else alive */
    }
    PyObject *ref = PyWeakref_NewRef(key, NULL);
    if (ref == NULL) {
        PyErr_Clear();
        return;
    }
    Py_ssize_t len = fallback ? 0 : b->len - start;
    char *bytes = len ? PyMem_RawMalloc(len) : NULL;
    if (len && bytes == NULL) {
        Py_DECREF(ref);
        return;
    }
    slot_clear(s);
    if (len)
        memcpy(bytes, b->data + start, len);
    s->key = key;
    s->kind = kind;
    s->ref = ref;
    s->tag = tag;
    s->fallback = fallback;
    s->bytes = bytes;
    s->len = len;
    if (kind == KIND_FUNCTION || kind == KIND_METHOD) {
        PyFunctionObject *f = (PyFunctionObject *)key;
        Py_XINCREF(f->func_qualname);
        s->qualname = f->func_qualname;
        Py_XINCREF(f->func_module);
        s->module = f->func_module;
    }
}

/* Whether t is a subclass of the class `name` of the already imported module `module`. */
static int
subclass_of_loaded(PyTypeObject *t, const char *module, const char *name)
{
    PyObject *m = PyDict_GetItemString(PyImport_GetModuleDict(), module); /* borrowed */
    if (m == NULL)
        return 0;
    PyObject *base = PyObject_GetAttrString(m, name);
    if (base == NULL)
        return -1;
    int r = PyType_Check(base) ? PyObject_IsSubclass((PyObject *)t, base) : 0;
    Py_DECREF(base);
    return r;
}

/* summarize.py's instance_text(): "T object" when every instance of t is described
   alike, None when each instance's own value matters (the Python summariser then sees
   each one).  Here in C, so that describing the import system's finder objects does not
   load the summariser into every process. */
static PyObject *
instance_text(Agent *self, PyTypeObject *t)
{
    static PyTypeObject *special[] = {&PyBool_Type, &PyLong_Type, &PyFloat_Type,
                                      &PyUnicode_Type, &PyBytes_Type, &PyByteArray_Type,
                                      &PyTuple_Type, &PyList_Type, &PyDict_Type,
                                      &PyCode_Type, &PyFunction_Type, &PyMethod_Type,
                                      &PyCFunction_Type, &PyModule_Type, &PyFrame_Type};
    if (t == Py_TYPE(Py_None))
        Py_RETURN_NONE;
    for (size_t i = 0; i < sizeof special / sizeof special[0]; i++)
        if (t == special[i])
            Py_RETURN_NONE;
    if (PyType_IsSubtype(t, &PyUnicode_Type) || PyType_IsSubtype(t, &PyLong_Type)
        || PyType_IsSubtype(t, &PyFloat_Type) || PyType_IsSubtype(t, &PyType_Type))
        Py_RETURN_NONE;
    int r = subclass_of_loaded(t, "pathlib", "PurePath");
    if (r == 0)
        r = subclass_of_loaded(t, "_socket", "socket");
    if (r != 0) {
        PyErr_Clear();
        Py_RETURN_NONE;
    }
    PyObject *module = PyObject_CallOneArg(self->type_module, (PyObject *)t);
    PyObject *qualname = module ? PyObject_CallOneArg(self->type_qualname, (PyObject *)t) : NULL;
    PyObject *name = qualname ? qualified(module, qualname) : NULL;
    Py_XDECREF(module);
    Py_XDECREF(qualname);
    PyObject *text = name ? PyUnicode_FromFormat("%U object", name) : NULL;
    Py_XDECREF(name);
    return text;
}

/* The text of a class, a function or a method's function, freshly made. */
static PyObject *
description_text(Agent *self, PyObject *key, int kind)
{
    if (kind == KIND_CLASS) {
        PyObject *module = PyObject_CallOneArg(self->type_module, key);
        PyObject *qualname = module ? PyObject_CallOneArg(self->type_qualname, key) : NULL;
        PyObject *name = qualname ? qualified(module, qualname) : NULL;
        Py_XDECREF(module);
        Py_XDECREF(qualname);
        PyObject *text = name ? PyUnicode_FromFormat("class %U", name) : NULL;
        Py_XDECREF(name);
        return text;
    }
    if (kind == KIND_INSTANCE)
        return instance_text(self, (PyTypeObject *)key);
    PyFunctionObject *f = (PyFunctionObject *)key;
    PyObject *name = qualified(f->func_module, f->func_qualname);
    PyObject *text = NULL;
    if (name != NULL)
        text = PyUnicode_FromFormat(kind == KIND_METHOD ? "method %U" : "function %U", name);
    Py_XDECREF(name);
    return text;
}

/* Encode the description of key (cached); 1 when done, 0 to leave the value to the
   Python summariser, -1 on error. */
static int
describe_cached(Agent *self, Buffer *b, PyObject *key, int kind)
{
    DescriptionSlot *s = slot_for(self, key, kind);
    if (slot_valid(s, key, kind)) {
        if (s->fallback)
            return 0;
        return put(b, s->bytes, s->len) < 0 ? -1 : 1;
    }
    PyObject *text = description_text(self, key, kind);
    if (text == NULL) {
        PyErr_Clear();
        return 0; /* the Python side knows what to say instead */
    }
    if (text == Py_None) {
        Py_DECREF(text);
        slot_store(s, key, kind, b, b->len, 1);
        return 0;
    }
    Py_ssize_t start = b->len;
    int r = PyUnicode_Check(text) ? pack_described_text(b, text) : -1;
    Py_DECREF(text);
    if (r < 0) {
        PyErr_Clear();
        b->len = start;
        return 0;
    }
    slot_store(s, key, kind, b, start, 0);
    return 1;
}

/* An ext description made of ASCII head and two UTF-8 parts: "code NAME at FILE:LINE". */
static int
describe_code(Buffer *b, PyCodeObject *code)
{
    Py_ssize_t name_len, file_len;
    const char *name = PyUnicode_Check(code->co_name)
                           ? PyUnicode_AsUTF8AndSize(code->co_name, &name_len) : NULL;
    const char *file = name && PyUnicode_Check(code->co_filename)
                           ? PyUnicode_AsUTF8AndSize(code->co_filename, &file_len) : NULL;
    if (file == NULL) {
        PyErr_Clear();
        return 0;
    }
    char line[24];
    int line_len = snprintf(line, sizeof line, ":%d", code->co_firstlineno);
    Py_ssize_t n = 5 + name_len + 4 + file_len + line_len;
    if (pack_ext_header(b, EXT_OBJECT, n) < 0 || put(b, "code ", 5) < 0 || put(b, name, name_len) < 0
        || put(b, " at ", 4) < 0 || put(b, file, file_len) < 0 || put(b, line, line_len) < 0)
        return -1;
    return 1;
}

/* describe() of summarize.py, in C for what events carry most: classes, their instances,
   functions and methods (sys.meta_path and sys.path_hooks ride on every import event),
   frames (logging's sys._getframe), code objects (exec) and built-in functions.
   Returns 1 when done, 0 to leave the value to the Python summariser, -1 on error. */
static int
describe_common(Agent *self, Buffer *b, PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyFrame_Type) /* a line number would cost a walk of the line table */
        return described(b, "frame") < 0 ? -1 : 1;
    if (t == &PyFunction_Type)
        return describe_cached(self, b, v, KIND_FUNCTION);
    if (t == &PyMethod_Type) {
        PyObject *func = PyMethod_GET_FUNCTION(v);
        if (Py_TYPE(func) == &PyFunction_Type)
            return describe_cached(self, b, func, KIND_METHOD);
        return described(b, "method") < 0 ? -1 : 1;
    }
    if (t == &PyCode_Type)
        return describe_code(b, (PyCodeObject *)v);
    if (t == &PyCFunction_Type) {
        const char *name = ((PyCFunctionObject *)v)->m_ml->ml_name;
        Py_ssize_t n = (Py_ssize_t)strlen(name);
        if (pack_ext_header(b, EXT_OBJECT, 18 + n) < 0 || put(b, "built-in function ", 18) < 0
            || put(b, name, n) < 0)
            return -1;
        return 1;
    }
    if (PyType_Check(v))
        return describe_cached(self, b, v, KIND_CLASS);
    return describe_cached(self, b, (PyObject *)t, KIND_INSTANCE);
}

