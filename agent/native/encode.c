/* Encoding values already summarised (the Python summariser's output, and control
 * messages such as the hello): plain data, and the protocol's Cut, Described and BigInt
 * as msgpack ext values.  Part of module.c's translation unit.
 */

/* An ext value whose payload is the msgpack of [value, length] (Cut). */
static int
pack_cut_payload(Agent *self, Buffer *b, PyObject *value, PyObject *length)
{
    /* The payload is packed in place after room for the largest ext header, which is
       then written to fit and the payload moved up to it: no buffer of its own (a large
       one, allocated and freed for every cut value, cost system calls and page faults). */
    enum { LARGEST_EXT_HEADER = 6 };
    Py_ssize_t start = b->len;
    if (reserve(b, LARGEST_EXT_HEADER) < 0)
        return -1;
    b->len += LARGEST_EXT_HEADER;
    Py_ssize_t payload = b->len;
    if (pack_array_header(b, 2) < 0 || pack_summary(self, b, value) < 0
        || pack_summary(self, b, length) < 0) {
        b->len = start;
        return -1;
    }
    Py_ssize_t n = b->len - payload;
    unsigned char bytes[8];
    Buffer header = {(char *)bytes, 0, sizeof bytes}; /* never grows: at most 6 bytes */
    if (pack_ext_header(&header, EXT_CUT, n) < 0) {
        b->len = start;
        return -1;
    }
    place_header(b, start, payload, &header);
    return 0;
}

/* The protocol's value classes, fetched the first time a summary holds something else
   than plain data: start-up then never loads the module that defines them. */
static int
load_wire_types(Agent *self)
{
    PyObject *types = PyObject_CallObject(self->wire_types, NULL);
    if (types == NULL)
        return -1;
    PyObject *cut, *described, *bigint;
    if (!PyArg_ParseTuple(types, "OOO", &cut, &described, &bigint)) {
        Py_DECREF(types);
        return -1;
    }
    Py_INCREF(described);
    Py_XSETREF(self->described_type, described);
    Py_INCREF(bigint);
    Py_XSETREF(self->bigint_type, bigint);
    Py_INCREF(cut);
    Py_XSETREF(self->cut_type, cut);
    Py_DECREF(types);
    return 0;
}

/* Encode an already summarised value (the output of the Python summariser). */
static int
pack_summary(Agent *self, Buffer *b, PyObject *v)
{
    PyTypeObject *t = Py_TYPE(v);
    if (v == Py_None)
        return put1(b, 0xc0);
    if (v == Py_True)
        return put1(b, 0xc3);
    if (v == Py_False)
        return put1(b, 0xc2);
    if (t == &PyLong_Type) {
        int r = pack_exact_int(b, v);
        if (r > 0)
            PyErr_SetString(PyExc_OverflowError, "int too wide for a summary");
        return r > 0 ? -1 : r;
    }
    if (t == &PyFloat_Type)
        return pack_double(b, PyFloat_AS_DOUBLE(v));
    if (t == &PyUnicode_Type)
        return pack_pystr(b, v);
    if (t == &PyBytes_Type)
        return pack_bin(b, PyBytes_AS_STRING(v), PyBytes_GET_SIZE(v));
    if (t == &PyList_Type || t == &PyTuple_Type) {
        Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
        PyObject **items = PySequence_Fast_ITEMS(v);
        if (pack_array_header(b, n) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++)
            if (pack_summary(self, b, items[i]) < 0)
                return -1;
        return 0;
    }
    if (t == &PyDict_Type) {
        Py_ssize_t pos = 0;
        PyObject *key, *value;
        if (pack_map_header(b, PyDict_GET_SIZE(v)) < 0)
            return -1;
        while (PyDict_Next(v, &pos, &key, &value))
            if (pack_summary(self, b, key) < 0 || pack_summary(self, b, value) < 0)
                return -1;
        return 0;
    }
    if (self->cut_type == NULL && load_wire_types(self) < 0)
        return -1;
    if ((PyObject *)t == self->cut_type) {
        PyObject *value = PyObject_GetAttrString(v, "value");
        PyObject *length = value ? PyObject_GetAttrString(v, "length") : NULL;
        int r = (value && length) ? pack_cut_payload(self, b, value, length) : -1;
        Py_XDECREF(value);
        Py_XDECREF(length);
        return r;
    }
    if ((PyObject *)t == self->described_type) {
        PyObject *text = PyObject_GetAttrString(v, "text");
        if (text == NULL)
            return -1;
        PyObject *encoded = PyUnicode_AsEncodedString(text, "utf-8", "surrogatepass");
        Py_DECREF(text);
        if (encoded == NULL)
            return -1;
        Py_ssize_t n = PyBytes_GET_SIZE(encoded);
        int r = pack_ext_header(b, EXT_OBJECT, n) < 0 ? -1 : put(b, PyBytes_AS_STRING(encoded), n);
        Py_DECREF(encoded);
        return r;
    }
    if ((PyObject *)t == self->bigint_type) {
        PyObject *value = PyObject_GetAttrString(v, "value");
        PyObject *text = value ? PyObject_Str(value) : NULL;
        Py_XDECREF(value);
        if (text == NULL)
            return -1;
        Py_ssize_t n;
        const char *s = PyUnicode_AsUTF8AndSize(text, &n);
        int r = (s == NULL || pack_ext_header(b, EXT_BIGINT, n) < 0) ? -1 : put(b, s, n);
        Py_DECREF(text);
        return r;
    }
    PyErr_Format(PyExc_TypeError, "cannot encode %s", t->tp_name);
    return -1;
}
