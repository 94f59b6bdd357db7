/* JSON Lines straight from an event batch's msgpack bytes (auditmon.record._native_lines).

   ``render(pid, raw)`` gives the lines that ``jsonl.reference_line`` writes for the
   batch's records, byte for byte, without making a Python object of any event: the
   monitor's JSON Lines writer spent most of its time decoding values only to encode them
   again.  Where it cannot promise the reference's bytes it gives None, and the Python
   path, which can, writes the batch:

   * a map whose keys are not all distinct strings free of a leading "$" (the reference
     collapses equal keys, and tags the others as "$dict");
   * a wide int (the "bigint" extension), msgpack's timestamp extension, a string that
     is not UTF-8 (lone surrogates aside, as "surrogatepass" reads and writes them);
   * in the record's own fields (seq, time, thread, event, stack), anything the
     reference does not write as it is: bytes, extensions, maps, non-finite floats;
   * bytes that are not a batch of six-field events, or nesting deeper than DEPTH.

   The rest is the reference's: strings escaped as json.dumps escapes them with
   ensure_ascii=False, floats as repr writes them (Ryu's shortest digits, laid out as
   PyOS_double_to_string's 'r' mode does), and the argument values' tags
   (``json_values.to_json``): "$bytes", "$float", "$cut", "$object", "$ext".
   tests/test_jsonl_native.py holds it to the reference. */

/* The extension codes, as the agent writes them (constants.py, generated): first, so
   that Python.h is not yet there and the header leaves out its module code. */
#include "../../../agent/native/constants.h"

#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "ryu/d2s.c" /* d2d, d2d_small_int: the shortest digits */

#define DEPTH 200

typedef struct {
    const unsigned char *at, *end; /* the input */
    PyObject *out;                 /* a bytes object, resized as it fills */
    char *text;                    /* its buffer */
    Py_ssize_t size, used;
    int failed; /* set once the batch goes to the Python path (or on an error) */
} Lines;

/* ---- output ---------------------------------------------------------------------- */

static int
room(Lines *l, Py_ssize_t more)
{
    if (l->used + more <= l->size)
        return 1;
    Py_ssize_t size = l->size * 2;
    if (size < l->used + more)
        size = l->used + more + 4096;
    if (_PyBytes_Resize(&l->out, size) < 0) {
        l->failed = 1;
        return 0;
    }
    l->text = PyBytes_AS_STRING(l->out);
    l->size = size;
    return 1;
}

static int
put(Lines *l, const char *data, Py_ssize_t n)
{
    if (!room(l, n))
        return 0;
    memcpy(l->text + l->used, data, n);
    l->used += n;
    return 1;
}

#define PUT_LITERAL(l, s) put((l), (s), (Py_ssize_t)(sizeof(s) - 1))

static int
put_int(Lines *l, int negative, uint64_t magnitude)
{
    char digits[24];
    int n = 0;
    do {
        digits[sizeof(digits) - 1 - n++] = (char)('0' + magnitude % 10);
        magnitude /= 10;
    } while (magnitude);
    if (negative)
        digits[sizeof(digits) - 1 - n++] = '-';
    return put(l, digits + sizeof(digits) - n, n);
}

/* A finite float as float.__repr__ writes it: Ryu's shortest digits (ryu/, vendored:
   CPython's own dtoa took most of the time of a batch's lines), laid out as
   PyOS_double_to_string lays out its 'r' mode. */
static int
put_float(Lines *l, double value)
{
    const uint64_t bits = double_to_bits(value);
    const int negative = (int)(bits >> 63);
    const uint64_t mantissa = bits & ((1ull << DOUBLE_MANTISSA_BITS) - 1);
    const uint32_t exponent = (uint32_t)((bits >> DOUBLE_MANTISSA_BITS) & 0x7ff);
    if (!room(l, 32))
        return 0;
    char *o = l->text + l->used;
    if (negative)
        *o++ = '-';
    if (exponent == 0 && mantissa == 0) {
        memcpy(o, "0.0", 3);
        l->used = o + 3 - l->text;
        return 1;
    }
    floating_decimal_64 v;
    if (!d2d_small_int(mantissa, exponent, &v))
        v = d2d(mantissa, exponent);
    while (v.mantissa % 10 == 0) { /* (a small int's trailing zeros) */
        v.mantissa /= 10;
        v.exponent++;
    }
    char digits[20];
    int n = 0;
    for (uint64_t m = v.mantissa; m; m /= 10)
        digits[19 - n++] = (char)('0' + m % 10);
    const char *d = digits + 20 - n;
    const int point = n + v.exponent; /* the value is 0.<digits> times ten to this */
    if (point <= -4 || point > 16) { /* d[.ddd]e+XX */
        *o++ = d[0];
        if (n > 1) {
            *o++ = '.';
            memcpy(o, d + 1, n - 1);
            o += n - 1;
        }
        int e = point - 1;
        *o++ = 'e';
        *o++ = e < 0 ? '-' : '+';
        if (e < 0)
            e = -e;
        if (e >= 100)
            *o++ = (char)('0' + e / 100);
        *o++ = (char)('0' + e / 10 % 10);
        *o++ = (char)('0' + e % 10);
    }
    else if (point <= 0) { /* 0.000ddd */
        *o++ = '0';
        *o++ = '.';
        memset(o, '0', -point);
        o += -point;
        memcpy(o, d, n);
        o += n;
    }
    else if (point >= n) { /* ddd000.0 */
        memcpy(o, d, n);
        o += n;
        memset(o, '0', point - n);
        o += point - n;
        memcpy(o, ".0", 2);
        o += 2;
    }
    else { /* dd.ddd */
        memcpy(o, d, point);
        o += point;
        *o++ = '.';
        memcpy(o, d + point, n - point);
        o += n - point;
    }
    l->used = o - l->text;
    return 1;
}

/* The length of the UTF-8 sequence of a non-ASCII character at ``s`` (``n`` bytes
   left), as Python's decoder reads it with "surrogatepass" (encoded surrogates allowed,
   overlong forms and values past U+10FFFF not); 0 where it is none. */
static int
utf8_sequence(const unsigned char *s, Py_ssize_t n)
{
    const unsigned char c = s[0];
    int more;
    unsigned char low = 0x80, high = 0xbf;
    if (c >= 0xc2 && c <= 0xdf)
        more = 1;
    else if (c >= 0xe0 && c <= 0xef) {
        more = 2;
        if (c == 0xe0)
            low = 0xa0;
    }
    else if (c >= 0xf0 && c <= 0xf4) {
        more = 3;
        if (c == 0xf0)
            low = 0x90;
        else if (c == 0xf4)
            high = 0x8f;
    }
    else
        return 0;
    if (n <= more || s[1] < low || s[1] > high)
        return 0;
    for (int k = 2; k <= more; k++)
        if (s[k] < 0x80 || s[k] > 0xbf)
            return 0;
    return more + 1;
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull
#define HAS_ZERO(w) (((w) - ONES) & ~(w) & HIGHS)

/* Whether any of eight bytes needs a look: not ASCII, a control character, '"', '\\'. */
static inline int
special(uint64_t w)
{
    return ((w | (w - 0x20 * ONES) | HAS_ZERO(w ^ ('"' * ONES)) | HAS_ZERO(w ^ ('\\' * ONES)))
            & HIGHS)
           != 0;
}

/* A JSON string of UTF-8 ``s[0:n]``, escaped as json.dumps(ensure_ascii=False) does. */
static int
put_string(Lines *l, const unsigned char *s, Py_ssize_t n)
{
    static const char hex[] = "0123456789abcdef";
    if (!room(l, n + 2)) /* (each escape makes room for what it adds) */
        return 0;
    char *o = l->text + l->used;
    *o++ = '"';
    Py_ssize_t start = 0, i = 0; /* s[start:i] is still to be copied */
    while (i < n) {
        if (i + 8 <= n) {
            uint64_t w;
            memcpy(&w, s + i, 8);
            if (!special(w)) {
                i += 8;
                continue;
            }
        }
        const unsigned char c = s[i];
        if (c >= 0x80) {
            const int size = utf8_sequence(s + i, n - i);
            if (!size) {
                l->failed = 1;
                return 0;
            }
            i += size;
            continue;
        }
        if (c >= 0x20 && c != '"' && c != '\\') {
            i++;
            continue;
        }
        l->used = o - l->text;
        if (!room(l, (i - start) + 6 + (n - i) + 1))
            return 0;
        o = l->text + l->used;
        memcpy(o, s + start, i - start);
        o += i - start;
        start = ++i;
        *o++ = '\\';
        switch (c) {
        case '"': *o++ = '"'; break;
        case '\\': *o++ = '\\'; break;
        case '\n': *o++ = 'n'; break;
        case '\r': *o++ = 'r'; break;
        case '\t': *o++ = 't'; break;
        case '\b': *o++ = 'b'; break;
        case '\f': *o++ = 'f'; break;
        default:
            *o++ = 'u';
            *o++ = '0';
            *o++ = '0';
            *o++ = hex[c >> 4];
            *o++ = hex[c & 15];
        }
    }
    memcpy(o, s + start, n - start);
    o += n - start;
    *o++ = '"';
    l->used = o - l->text;
    return 1;
}

static int
put_base64(Lines *l, const unsigned char *s, Py_ssize_t n)
{
    static const char abc[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    if (!room(l, (n + 2) / 3 * 4 + 2))
        return 0;
    char *o = l->text + l->used;
    *o++ = '"';
    Py_ssize_t i = 0;
    for (; i + 2 < n; i += 3) {
        uint32_t v = (uint32_t)s[i] << 16 | (uint32_t)s[i + 1] << 8 | s[i + 2];
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = abc[(v >> 6) & 63];
        *o++ = abc[v & 63];
    }
    if (i < n) {
        uint32_t v = (uint32_t)s[i] << 16 | (i + 1 < n ? (uint32_t)s[i + 1] << 8 : 0);
        *o++ = abc[v >> 18];
        *o++ = abc[(v >> 12) & 63];
        *o++ = i + 1 < n ? abc[(v >> 6) & 63] : '=';
        *o++ = '=';
    }
    *o++ = '"';
    l->used = o - l->text;
    return 1;
}

/* ---- input ----------------------------------------------------------------------- */

static int
take(Lines *l, Py_ssize_t n, const unsigned char **data)
{
    if (l->end - l->at < n) {
        l->failed = 1;
        return 0;
    }
    *data = l->at;
    l->at += n;
    return 1;
}

static uint64_t
big_endian(const unsigned char *p, int n)
{
    uint64_t v = 0;
    for (int i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* A length of ``n`` bytes, or the whole input's failure. */
static int
length(Lines *l, int n, Py_ssize_t *size)
{
    const unsigned char *p;
    if (!take(l, n, &p))
        return 0;
    uint64_t v = big_endian(p, n);
    if (v > (uint64_t)(l->end - l->at) * 16 + 16) { /* more than the input can hold */
        l->failed = 1;
        return 0;
    }
    *size = (Py_ssize_t)v;
    return 1;
}

/* An array's header: its length, or -1 (and failed) where the next value is none. */
static Py_ssize_t
array_header(Lines *l)
{
    const unsigned char *p;
    Py_ssize_t size;
    if (!take(l, 1, &p))
        return -1;
    if ((*p & 0xf0) == 0x90)
        return *p & 0x0f;
    if ((*p == 0xdc && length(l, 2, &size)) || (*p == 0xdd && length(l, 4, &size)))
        return size;
    l->failed = 1;
    return -1;
}

/* An unsigned int (a negative one is none of the agent's: the Python path's). */
static int
unsigned_int(Lines *l, uint64_t *v)
{
    const unsigned char *p, *q;
    if (!take(l, 1, &p))
        return 0;
    if (*p <= 0x7f) {
        *v = *p;
        return 1;
    }
    if (*p >= 0xcc && *p <= 0xcf) {
        int n = 1 << (*p - 0xcc);
        if (!take(l, n, &q))
            return 0;
        *v = big_endian(q, n);
        return 1;
    }
    l->failed = 1;
    return 0;
}

static int value(Lines *l, int tagged, int depth);

static int
array(Lines *l, Py_ssize_t count, int tagged, int depth)
{
    if (!PUT_LITERAL(l, "["))
        return 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        if (i && !PUT_LITERAL(l, ","))
            return 0;
        if (!value(l, tagged, depth + 1))
            return 0;
    }
    return PUT_LITERAL(l, "]");
}

/* A map: only where its keys are distinct strings not starting with "$" (then the
   reference writes it as a JSON object, in order); the Python path otherwise. */
static int
map(Lines *l, Py_ssize_t count, int tagged, int depth)
{
    enum { KEYS = 32 };
    const unsigned char *keys[KEYS];
    Py_ssize_t sizes[KEYS];
    if (!tagged || count > KEYS) {
        l->failed = 1;
        return 0;
    }
    if (!PUT_LITERAL(l, "{"))
        return 0;
    for (Py_ssize_t i = 0; i < count; i++) {
        const unsigned char *p, *key;
        Py_ssize_t size;
        if (!take(l, 1, &p))
            return 0;
        if ((*p & 0xe0) == 0xa0)
            size = *p & 0x1f;
        else if (!((*p == 0xd9 && length(l, 1, &size)) || (*p == 0xda && length(l, 2, &size))
                   || (*p == 0xdb && length(l, 4, &size)))) {
            l->failed = 1;
            return 0;
        }
        if (!take(l, size, &key))
            return 0;
        if (size && key[0] == '$') {
            l->failed = 1;
            return 0;
        }
        for (Py_ssize_t k = 0; k < i; k++)
            if (sizes[k] == size && memcmp(keys[k], key, size) == 0) {
                l->failed = 1;
                return 0;
            }
        keys[i] = key;
        sizes[i] = size;
        if ((i && !PUT_LITERAL(l, ",")) || !put_string(l, key, size) || !PUT_LITERAL(l, ":"))
            return 0;
        if (!value(l, tagged, depth + 1))
            return 0;
    }
    return PUT_LITERAL(l, "}");
}

/* An extension value: a cut value, a description, another code (tagged values only). */
static int
extension(Lines *l, Py_ssize_t size, int depth)
{
    const unsigned char *p, *data;
    if (!take(l, 1, &p) || !take(l, size, &data))
        return 0;
    int code = (signed char)*p;
    if (code == EXT_CUT) {
        /* [kept part, original length], the payload exactly one value */
        const unsigned char *at = l->at, *end = l->end;
        l->at = data;
        l->end = data + size;
        uint64_t original;
        int ok = PUT_LITERAL(l, "{\"$cut\":") && array_header(l) == 2
                 && value(l, 1, depth + 1) && PUT_LITERAL(l, ",\"length\":")
                 && unsigned_int(l, &original) && put_int(l, 0, original);
        if (ok && l->at != l->end)
            l->failed = 1;
        l->at = at;
        l->end = end;
        return ok && !l->failed && PUT_LITERAL(l, "}");
    }
    if (code == EXT_OBJECT)
        return PUT_LITERAL(l, "{\"$object\":") && put_string(l, data, size)
               && PUT_LITERAL(l, "}");
    if (code < 0 || code == EXT_BIGINT) { /* msgpack's own (timestamps), and wide ints */
        l->failed = 1;
        return 0;
    }
    return PUT_LITERAL(l, "{\"$ext\":") && put_int(l, 0, (uint64_t)code)
           && PUT_LITERAL(l, ",\"data\":") && put_base64(l, data, size) && PUT_LITERAL(l, "}");
}

/* One value; ``tagged``: an argument value (``to_json``'s tags), else a record field's,
   which the reference writes only as JSON has it. */
static int
value(Lines *l, int tagged, int depth)
{
    const unsigned char *p, *q;
    Py_ssize_t size;
    if (depth > DEPTH || !take(l, 1, &p)) {
        l->failed = 1;
        return 0;
    }
    unsigned char c = *p;
    if (c <= 0x7f)
        return put_int(l, 0, c);
    if (c >= 0xe0)
        return put_int(l, 1, (uint64_t)(256 - c));
    if ((c & 0xe0) == 0xa0)
        return take(l, c & 0x1f, &q) && put_string(l, q, c & 0x1f);
    if ((c & 0xf0) == 0x90)
        return array(l, c & 0x0f, tagged, depth);
    if ((c & 0xf0) == 0x80)
        return map(l, c & 0x0f, tagged, depth);
    switch (c) {
    case 0xc0: return PUT_LITERAL(l, "null");
    case 0xc2: return PUT_LITERAL(l, "false");
    case 0xc3: return PUT_LITERAL(l, "true");
    case 0xcc: case 0xcd: case 0xce: case 0xcf: {
        int n = 1 << (c - 0xcc);
        return take(l, n, &q) && put_int(l, 0, big_endian(q, n));
    }
    case 0xd0: case 0xd1: case 0xd2: case 0xd3: {
        int n = 1 << (c - 0xd0);
        if (!take(l, n, &q))
            return 0;
        uint64_t v = big_endian(q, n);
        if (n < 8 && (v >> (8 * n - 1)))
            v |= ~(uint64_t)0 << (8 * n); /* sign-extend */
        return (int64_t)v < 0 ? put_int(l, 1, ~v + 1) : put_int(l, 0, v);
    }
    case 0xca: case 0xcb: {
        double d;
        if (c == 0xca) {
            float f;
            uint32_t bits;
            if (!take(l, 4, &q))
                return 0;
            bits = (uint32_t)big_endian(q, 4);
            memcpy(&f, &bits, 4);
            d = f;
        }
        else {
            uint64_t bits;
            if (!take(l, 8, &q))
                return 0;
            bits = big_endian(q, 8);
            memcpy(&d, &bits, 8);
        }
        if (isfinite(d))
            return put_float(l, d);
        if (!tagged) {
            l->failed = 1; /* the reference refuses it (allow_nan=False) */
            return 0;
        }
        return PUT_LITERAL(l, "{\"$float\":\"")
               && (isnan(d) ? PUT_LITERAL(l, "nan")
                   : d > 0  ? PUT_LITERAL(l, "inf")
                            : PUT_LITERAL(l, "-inf"))
               && PUT_LITERAL(l, "\"}");
    }
    case 0xd9: case 0xda: case 0xdb:
        return length(l, 1 << (c - 0xd9), &size) && take(l, size, &q) && put_string(l, q, size);
    case 0xc4: case 0xc5: case 0xc6:
        if (!tagged)
            break;
        return length(l, 1 << (c - 0xc4), &size) && take(l, size, &q)
               && PUT_LITERAL(l, "{\"$bytes\":") && put_base64(l, q, size)
               && PUT_LITERAL(l, "}");
    case 0xdc: case 0xdd:
        return length(l, 2 << (c - 0xdc), &size) && array(l, size, tagged, depth);
    case 0xde: case 0xdf:
        return length(l, 2 << (c - 0xde), &size) && map(l, size, tagged, depth);
    case 0xd4: case 0xd5: case 0xd6: case 0xd7: case 0xd8:
        if (!tagged)
            break;
        return extension(l, 1 << (c - 0xd4), depth);
    case 0xc7: case 0xc8: case 0xc9:
        if (!tagged)
            break;
        return length(l, 1 << (c - 0xc7), &size) && extension(l, size, depth);
    }
    l->failed = 1; /* 0xc1 (never used), or what a record field cannot hold */
    return 0;
}

/* ---- the module ------------------------------------------------------------------ */

/* One event's line: ``[seq, time, thread, event, args, stack]`` as a record. */
static int
event(Lines *l, const char *head, int head_size)
{
    if (array_header(l) != 6) /* (not the agent's) */
        return 0;
    if (!(put(l, head, head_size) && value(l, 0, 0) && PUT_LITERAL(l, ",\"time\":")
          && value(l, 0, 0) && PUT_LITERAL(l, ",\"thread\":") && value(l, 0, 0)
          && PUT_LITERAL(l, ",\"event\":") && value(l, 0, 0) && PUT_LITERAL(l, ",\"args\":")
          && value(l, 1, 0)))
        return 0;
    if (l->at < l->end && *l->at == 0xc0) { /* no stack */
        l->at++;
        return PUT_LITERAL(l, "}\n");
    }
    return PUT_LITERAL(l, ",\"stack\":") && value(l, 0, 0) && PUT_LITERAL(l, "}\n");
}

static PyObject *
render(PyObject *module, PyObject *args)
{
    PyObject *pid_object;
    Py_buffer raw;
    if (!PyArg_ParseTuple(args, "O!y*:render", &PyLong_Type, &pid_object, &raw))
        return NULL;
    int overflow;
    long long pid = PyLong_AsLongLongAndOverflow(pid_object, &overflow);
    if (overflow) { /* (not a pid: the Python path writes it as it is) */
        PyBuffer_Release(&raw);
        Py_RETURN_NONE;
    }
    char head[64];
    int head_size = snprintf(head, sizeof(head), "{\"type\":\"event\",\"pid\":%lld,\"seq\":", pid);
    Lines l = {raw.buf, (const unsigned char *)raw.buf + raw.len, NULL, NULL, 0, 0, 0};
    l.size = raw.len * 2 + 256;
    l.out = PyBytes_FromStringAndSize(NULL, l.size);
    if (l.out == NULL) {
        PyBuffer_Release(&raw);
        return NULL;
    }
    l.text = PyBytes_AS_STRING(l.out);
    Py_ssize_t events = array_header(&l);
    for (Py_ssize_t i = 0; i < events; i++)
        if (!event(&l, head, head_size)) {
            l.failed = 1; /* (whichever way it gave up) */
            break;
        }
    int whole = !l.failed && events >= 0 && l.at == l.end;
    PyBuffer_Release(&raw);
    if (PyErr_Occurred()) { /* (memory) */
        Py_XDECREF(l.out);
        return NULL;
    }
    if (!whole) {
        Py_XDECREF(l.out);
        Py_RETURN_NONE;
    }
    if (_PyBytes_Resize(&l.out, l.used) < 0)
        return NULL;
    return l.out;
}

static PyMethodDef methods[] = {
    {"render", render, METH_VARARGS,
     "render(pid, raw) -> bytes | None: the JSON Lines of pid's events, from their msgpack "
     "encoding; None where only the Python path can promise the reference's bytes."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_native_lines",
    "JSON Lines from an event batch's msgpack bytes (see auditmon/record/jsonl.py).", -1,
    methods,
};

PyMODINIT_FUNC
PyInit__native_lines(void)
{
    return PyModule_Create(&module);
}
