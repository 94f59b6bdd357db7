/* The byte buffer events are encoded into, and msgpack's primitives on it: the same
 * choices as msgpack-python's packer (use_bin_type=True), so that the bytes are the
 * pure-Python agent's.  Header-only and inline-heavy: every event goes through here, and
 * the compiler inlines these into the hook (one translation unit: see module.c).
 */
#ifndef AUDITMON_BUFFER_H
#define AUDITMON_BUFFER_H

/* -- buffer ------------------------------------------------------------------------ */
static int
grow(Buffer *b, Py_ssize_t extra)
{
    Py_ssize_t cap = b->cap ? b->cap : 65536;
    while (cap < b->len + extra)
        cap *= 2;
    char *data = PyMem_RawRealloc(b->data, cap);
    if (data == NULL)
        return -1;
    b->data = data;
    b->cap = cap;
    return 0;
}

/* Room for `extra` more bytes: inline where there is (nearly always), else grow. */
static inline int
reserve(Buffer *b, Py_ssize_t extra)
{
    return b->len + extra <= b->cap ? 0 : grow(b, extra);
}

static inline int
put(Buffer *b, const void *p, Py_ssize_t n)
{
    if (reserve(b, n) < 0)
        return -1;
    char *to = b->data + b->len;
    if (n <= 16) { /* short strings: a call to memcpy costs more than the copy */
        const char *from = p;
        for (Py_ssize_t i = 0; i < n; i++)
            to[i] = from[i];
    }
    else
        memcpy(to, p, n);
    b->len += n;
    return 0;
}

static inline int
put1(Buffer *b, unsigned char c)
{
    if (b->len >= b->cap && reserve(b, 1) < 0)
        return -1;
    b->data[b->len++] = (char)c;
    return 0;
}

/* A tag and the low `bytes` (1 to 8) bytes of v, big-endian.  Where there is room for
   9 bytes: one 8-byte store of the shifted, byte-swapped value (the bytes past the
   value are overwritten by what follows, or lie past len). */
static inline int
put_be(Buffer *b, unsigned char tag, uint64_t v, int bytes)
{
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
    if (b->len + 9 <= b->cap) {
        char *p = b->data + b->len;
        uint64_t be = __builtin_bswap64(v << (8 * (8 - bytes)));
        p[0] = (char)tag;
        memcpy(p + 1, &be, 8);
        b->len += 1 + bytes;
        return 0;
    }
#endif
    unsigned char tmp[9];
    tmp[0] = tag;
    for (int i = 0; i < bytes; i++)
        tmp[1 + i] = (unsigned char)(v >> (8 * (bytes - 1 - i)));
    return put(b, tmp, 1 + bytes);
}

/* -- msgpack, the same choices as msgpack-python's packer (use_bin_type=True) ------- */
static inline int
pack_uint(Buffer *b, uint64_t n)
{
    if (n < 0x80)
        return put1(b, (unsigned char)n);
    if (n < 0x100)
        return put_be(b, 0xcc, n, 1);
    if (n < 0x10000)
        return put_be(b, 0xcd, n, 2);
    if (n < 0x100000000ULL)
        return put_be(b, 0xce, n, 4);
    return put_be(b, 0xcf, n, 8);
}

static int
pack_int(Buffer *b, int64_t n)
{
    if (n >= 0)
        return pack_uint(b, (uint64_t)n);
    if (n >= -32)
        return put1(b, (unsigned char)(int8_t)n);
    if (n >= -0x80)
        return put_be(b, 0xd0, (uint64_t)n, 1);
    if (n >= -0x8000)
        return put_be(b, 0xd1, (uint64_t)n, 2);
    if (n >= -0x80000000LL)
        return put_be(b, 0xd2, (uint64_t)n, 4);
    return put_be(b, 0xd3, (uint64_t)n, 8);
}

static int
pack_double(Buffer *b, double d)
{
    uint64_t bits;
    memcpy(&bits, &d, 8);
    return put_be(b, 0xcb, bits, 8);
}

/* An array's or a map's header: the fix form, then 16 and 32 bits (tags tag16, tag16+1). */
static int
pack_container_header(Buffer *b, Py_ssize_t n, unsigned char fix, unsigned char tag16)
{
    if (n < 16)
        return put1(b, (unsigned char)(fix | n));
    if (n < 0x10000)
        return put_be(b, tag16, (uint64_t)n, 2);
    return put_be(b, (unsigned char)(tag16 + 1), (uint64_t)n, 4);
}

static int
pack_array_header(Buffer *b, Py_ssize_t n)
{
    return pack_container_header(b, n, 0x90, 0xdc);
}

static int
pack_map_header(Buffer *b, Py_ssize_t n)
{
    return pack_container_header(b, n, 0x80, 0xde);
}

/* A length in the smallest of msgpack's 8-, 16- and 32-bit forms (str, bin and ext
   each have the three, tagged `tag8` and the next two codes). */
static int
pack_length(Buffer *b, Py_ssize_t n, unsigned char tag8)
{
    if (n < 0x100)
        return put_be(b, tag8, (uint64_t)n, 1);
    if (n < 0x10000)
        return put_be(b, tag8 + 1, (uint64_t)n, 2);
    return put_be(b, tag8 + 2, (uint64_t)n, 4);
}

static inline int
pack_str_bytes(Buffer *b, const char *s, Py_ssize_t n)
{
    int r = n < 32 ? put1(b, (unsigned char)(0xa0 | n)) : pack_length(b, n, 0xd9);
    return r < 0 ? -1 : put(b, s, n);
}

static int
pack_bin(Buffer *b, const char *s, Py_ssize_t n)
{
    return pack_length(b, n, 0xc4) < 0 ? -1 : put(b, s, n);
}

static int
pack_ext_header(Buffer *b, int code, Py_ssize_t n)
{
    unsigned char fixed = 0;
    switch (n) {
    case 1: fixed = 0xd4; break;
    case 2: fixed = 0xd5; break;
    case 4: fixed = 0xd6; break;
    case 8: fixed = 0xd7; break;
    case 16: fixed = 0xd8; break;
    }
    if ((fixed ? put1(b, fixed) : pack_length(b, n, 0xc7)) < 0)
        return -1;
    return put1(b, (unsigned char)(signed char)code);
}


/* An exact int, packed where it fits in 64 bits (signed or not); 1, with no exception
   set, where it doesn't. */
static int
pack_exact_int(Buffer *b, PyObject *v)
{
    int overflow = 0;
    long long n = PyLong_AsLongLongAndOverflow(v, &overflow);
    if (overflow == 0)
        return pack_int(b, n);
    if (overflow > 0) {
        unsigned long long u = PyLong_AsUnsignedLongLong(v);
        if (!(u == (unsigned long long)-1 && PyErr_Occurred()))
            return pack_uint(b, u);
        PyErr_Clear();
    }
    return 1;
}

/* Encode a str; Python's "surrogatepass" error handler, like the pure agent. */
static int
pack_pystr(Buffer *b, PyObject *s)
{
    if (PyUnicode_IS_COMPACT_ASCII(s)) /* the usual: its bytes are its UTF-8, in place */
        return pack_str_bytes(b, (const char *)PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s));
    Py_ssize_t n;
    const char *utf8 = PyUnicode_AsUTF8AndSize(s, &n);
    if (utf8 != NULL)
        return pack_str_bytes(b, utf8, n);
    PyErr_Clear();
    PyObject *encoded = PyUnicode_AsEncodedString(s, "utf-8", "surrogatepass");
    if (encoded == NULL)
        return -1;
    int r = pack_str_bytes(b, PyBytes_AS_STRING(encoded), PyBytes_GET_SIZE(encoded));
    Py_DECREF(encoded);
    return r;
}

/* Headers written last: `head` goes at `start`, and what was packed from `payload` on
   (after room left for the largest headers) moves up to follow it. */
static void
place_header(Buffer *b, Py_ssize_t start, Py_ssize_t payload, const Buffer *head)
{
    Py_ssize_t rest = b->len - payload;
    memmove(b->data + start + head->len, b->data + payload, (size_t)rest);
    memcpy(b->data + start, head->data, (size_t)head->len);
    b->len = start + head->len + rest;
}

#endif
