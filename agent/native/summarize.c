/* Summaries: Summarizer.value() and Summarizer.args() of summarize.py, for the common
 * exact types (str, bytes, int, float, None, bool, list, tuple), encoded straight into
 * the buffer.  Descriptions come from describe.c; anything else goes to the Python
 * summariser (fallback_into), whose result encode.c encodes, so odd values are treated
 * the same on both paths.  Part of module.c's translation unit.
 */

/* The Python summariser's summary of v, encoded; it updates the budget. */
static int
fallback_into(Agent *self, Buffer *b, PyObject *v, int level, long *budget)
{
    PyObject *holder = Py_BuildValue("[l]", *budget);
    if (holder == NULL)
        return -1;
    PyObject *summary = PyObject_CallFunction(self->fallback, "OiO", v, level, holder);
    if (summary == NULL) {
        Py_DECREF(holder);
        return -1;
    }
    *budget = PyLong_AsLong(PyList_GET_ITEM(holder, 0));
    Py_DECREF(holder);
    int r = pack_summary(self, b, summary);
    Py_DECREF(summary);
    return r;
}
static int
summarize_sequence(Agent *self, Buffer *b, PyObject *v, int level, long *budget)
{
    Py_ssize_t n = PySequence_Fast_GET_SIZE(v);
    if (level >= self->depth || *budget <= 0) {
        char text[64];
        snprintf(text, sizeof text, "%s of %zd items",
                 Py_TYPE(v) == &PyList_Type ? "list" : "tuple", n);
        return described(b, text);
    }
    /* Whether the result is a plain array or a Cut depends on how many items fit in the
       width and the budget: they are encoded in place, after room for the largest
       headers either may need, which are written last, the items moved up to them. */
    enum { ROOM = 6 + 1 + 5 }; /* ext header, [kept, length] header, items header */
    Py_ssize_t start = b->len;
    if (reserve(b, ROOM) < 0)
        return -1;
    b->len += ROOM;
    Py_ssize_t items = b->len;
    Py_ssize_t kept = 0, limit = n < self->width ? n : self->width;
    PyObject **elements = PySequence_Fast_ITEMS(v);
    for (Py_ssize_t i = 0; i < limit; i++) {
        if (*budget <= 0)
            break;
        if (summarize_into(self, b, elements[i], level + 1, budget) < 0) {
            b->len = start;
            return -1;
        }
        kept++;
    }
    unsigned char head_bytes[16], array_bytes[8];
    Buffer head = {(char *)head_bytes, 0, sizeof head_bytes};    /* never grows: <= 12 */
    Buffer array = {(char *)array_bytes, 0, sizeof array_bytes}; /* never grows: <= 5 */
    Py_ssize_t items_len = b->len - items;
    if (pack_array_header(&array, kept) < 0)
        goto fail;
    if (kept < n) { /* a Cut: EXT_CUT, payload [[kept items...], length] */
        if (pack_uint(b, (uint64_t)n) < 0)
            goto fail;
        Py_ssize_t length_len = b->len - items - items_len;
        if (pack_ext_header(&head, EXT_CUT, 1 + array.len + items_len + length_len) < 0
            || pack_array_header(&head, 2) < 0)
            goto fail;
    }
    if (put(&head, array.data, array.len) < 0)
        goto fail;
    place_header(b, start, items, &head);
    return 0;
fail:
    b->len = start;
    return -1;
}

static int
summarize_into(Agent *self, Buffer *b, PyObject *v, int level, long *budget)
{
    PyTypeObject *t = Py_TYPE(v);
    if (t == &PyUnicode_Type || t == &PyBytes_Type || t == &PyList_Type || t == &PyTuple_Type
        || t == &PyLong_Type || t == &PyFloat_Type || v == Py_None || t == &PyBool_Type) {
        *budget -= 1;
        if (v == Py_None || t == &PyBool_Type || t == &PyFloat_Type)
            return pack_summary(self, b, v);
        if (t == &PyLong_Type) {
            int r = pack_exact_int(b, v);
            if (r <= 0)
                return r;
            *budget += 1; /* the fallback counts this node itself */
            return fallback_into(self, b, v, level, budget);
        }
        if (t == &PyUnicode_Type) {
            Py_ssize_t n = PyUnicode_GET_LENGTH(v);
            if (n <= self->strlen)
                return pack_pystr(b, v);
            PyObject *prefix = PyUnicode_Substring(v, 0, self->strlen);
            PyObject *length = PyLong_FromSsize_t(n);
            int r = (prefix && length) ? pack_cut_payload(self, b, prefix, length) : -1;
            Py_XDECREF(prefix);
            Py_XDECREF(length);
            return r;
        }
        if (t == &PyBytes_Type) {
            Py_ssize_t n = PyBytes_GET_SIZE(v);
            if (n <= self->strlen)
                return pack_bin(b, PyBytes_AS_STRING(v), n);
            PyObject *prefix = PyBytes_FromStringAndSize(PyBytes_AS_STRING(v), self->strlen);
            PyObject *length = PyLong_FromSsize_t(n);
            int r = (prefix && length) ? pack_cut_payload(self, b, prefix, length) : -1;
            Py_XDECREF(prefix);
            Py_XDECREF(length);
            return r;
        }
        return summarize_sequence(self, b, v, level, budget);
    }
    Py_ssize_t start = b->len;
    int done = describe_common(self, b, v);
    if (done != 0) {
        if (done < 0)
            b->len = start;
        else
            *budget -= 1;
        return done < 0 ? -1 : 0;
    }
    return fallback_into(self, b, v, level, budget);
}

/* Summarizer.args(): plain top-level values pass without touching a budget. */
static int
summarize_args(Agent *self, Buffer *b, PyObject *args)
{
    Py_ssize_t n = PyTuple_GET_SIZE(args);
    if (pack_array_header(b, n) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *v = PyTuple_GET_ITEM(args, i);
        PyTypeObject *t = Py_TYPE(v);
        long budget = self->budget;
        if (t == &PyUnicode_Type && PyUnicode_GET_LENGTH(v) <= self->strlen) {
            if (pack_pystr(b, v) < 0)
                return -1;
        }
        else if (t == &PyLong_Type) {
            int r = pack_exact_int(b, v); /* 1: wider than 64 bits, for the Python side */
            if (r < 0 || (r > 0 && fallback_into(self, b, v, 0, &budget) < 0))
                return -1;
        }
        else if (v == Py_None || t == &PyBool_Type || t == &PyFloat_Type) {
            if (pack_summary(self, b, v) < 0)
                return -1;
        }
        else if (summarize_into(self, b, v, 0, &budget) < 0)
            return -1;
    }
    return 0;
}
