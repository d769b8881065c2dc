/* classifier.text._scan: the innermost loops of the batch path, over code points, in C.
 *
 * Optional: setup.py builds it when a compiler is there, and `classifier.text.scan` falls back
 * to the pure-Python/numpy code (the reference) when it is not. Every function here computes
 * exactly what its fallback computes; tests/scoring/test_batch.py runs both on adversarial text.
 *
 *   Vocabulary(keys, values)        a str -> int table that hashes the code points of a token
 *                                   in place (no Python hash of a fresh str per token)
 *   vocabulary_from_lines(blob, columns)
 *                                   the same table of the lines of a UTF-8 blob at `columns`
 *                                   (ascending), each to its line number: no str per gram
 *     .get(key) -> int              the value, or -1
 *     .word_grams(items, pair_keys, pair_columns, width, bigrams, stem) -> (rows, columns)
 *                                   the known unigrams of every text and, when `bigrams`, the
 *                                   known pairs of neighbouring known tokens (sorted int64 codes
 *                                   first * width + second, searched by bisection); an item is
 *                                   a text's token list, or a pure-ASCII text, which is
 *                                   tokenised here exactly as tokenize._word_tokens does, its
 *                                   tokens looked up without becoming Python strings
 *   Automaton(words)                an Aho-Corasick automaton over code points (value = the
 *                                   word's index), built like pyahocorasick's make_automaton
 *     .iter_long(text) -> (lasts, indices)
 *                                   pyahocorasick's Automaton.iter_long, step for step
 *   han_grams(texts, unigram, bigram_keys, bigram_columns) -> (rows, columns)
 *                                   Han character unigrams (a 0x10000 code point -> column
 *                                   table) and bigrams (sorted codes first << 16 | second)
 *   linear_scores(rows, columns, values, coef_by_label, n, labels) -> scores
 *                                   per row and label, value * weight summed from zero in
 *                                   array order: numpy.bincount(rows, values * w[columns])
 *
 * Arrays go in as int64 buffers and come out as bytes of int32 (rows, columns, indices) or
 * int64 (positions), for numpy.frombuffer: no numpy headers are needed to build this.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* -- growable int32 / int64 output ------------------------------------------------------ */
typedef struct {
    char *data;
    Py_ssize_t len, cap, item;
} Out;

static int out_init(Out *o, Py_ssize_t cap, Py_ssize_t item) {
    o->item = item;
    o->len = 0;
    o->cap = cap > 16 ? cap : 16;
    o->data = malloc((size_t)(o->cap * item));
    if (!o->data) { PyErr_NoMemory(); return -1; }
    return 0;
}

static int out_grow(Out *o) {
    Py_ssize_t cap = o->cap * 2;
    char *data = realloc(o->data, (size_t)(cap * o->item));
    if (!data) { PyErr_NoMemory(); return -1; }
    o->data = data;
    o->cap = cap;
    return 0;
}

static inline int out_i32(Out *o, int32_t v) {
    if (o->len == o->cap && out_grow(o) < 0) return -1;
    ((int32_t *)o->data)[o->len++] = v;
    return 0;
}

static inline int out_i64(Out *o, int64_t v) {
    if (o->len == o->cap && out_grow(o) < 0) return -1;
    ((int64_t *)o->data)[o->len++] = v;
    return 0;
}

static PyObject *out_bytes(Out *o) {
    PyObject *b = PyBytes_FromStringAndSize(o->data, o->len * o->item);
    free(o->data);
    o->data = NULL;
    return b;
}

static void out_free(Out *o) { free(o->data); o->data = NULL; }

static PyObject *pair_of(Out *a, Out *b) {
    PyObject *x = out_bytes(a), *y = out_bytes(b);
    if (!x || !y) { Py_XDECREF(x); Py_XDECREF(y); return NULL; }
    PyObject *t = PyTuple_Pack(2, x, y);
    Py_DECREF(x);
    Py_DECREF(y);
    return t;
}

/* -- int64 buffers ------------------------------------------------------------------------ */
static int get_i64(PyObject *obj, Py_buffer *view, const int64_t **data, Py_ssize_t *n) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (view->itemsize != 8 || !view->format || (strcmp(view->format, "l") && strcmp(view->format, "q")
                                                 && strcmp(view->format, "<q") && strcmp(view->format, "<l"))) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "expected a contiguous int64 array");
        return -1;
    }
    *data = (const int64_t *)view->buf;
    *n = view->len / 8;
    return 0;
}

/* the index of `key` in the ascending `keys`, or -1 */
static inline Py_ssize_t bisect(const int64_t *keys, Py_ssize_t n, int64_t key) {
    Py_ssize_t lo = 0, hi = n;
    while (lo < hi) {
        Py_ssize_t mid = lo + (hi - lo) / 2;
        if (keys[mid] < key) lo = mid + 1; else hi = mid;
    }
    return lo < n && keys[lo] == key ? lo : -1;
}

static inline uint64_t mix(uint64_t h) {
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    return h;
}

/* == Vocabulary ============================================================================ */
static PyTypeObject VocabularyType;
typedef struct {
    PyObject_HEAD
    Py_UCS4 *pool;         /* every key's code points, one after another */
    int64_t *offset;       /* per entry: start in pool */
    int32_t *length;       /* per entry: number of code points */
    int64_t *value;        /* per entry */
    uint64_t *hash;        /* per entry */
    int32_t *slots;        /* open addressing: entry + 1, 0 = empty */
    uint64_t mask;
    Py_ssize_t n, used;
} Vocabulary;

static uint64_t hash_chars(int kind, const void *data, Py_ssize_t n) {
    uint64_t h = 0xcbf29ce484222325ULL;
    for (Py_ssize_t i = 0; i < n; i++) {
        h ^= PyUnicode_READ(kind, data, i);
        h *= 0x100000001b3ULL;
    }
    return mix(h ^ (uint64_t)n);
}

/* the entry of the key held in `data` (a PyUnicode kind), or -1 */
static Py_ssize_t vocab_find_chars(Vocabulary *v, int kind, const void *data, Py_ssize_t n) {
    uint64_t h = hash_chars(kind, data, n);
    for (uint64_t at = h & v->mask;; at = (at + 1) & v->mask) {
        int32_t slot = v->slots[at];
        if (!slot) return -1;
        Py_ssize_t e = slot - 1;
        if (v->hash[e] != h || v->length[e] != n) continue;
        const Py_UCS4 *key = v->pool + v->offset[e];
        Py_ssize_t i = 0;
        while (i < n && key[i] == PyUnicode_READ(kind, data, i)) i++;
        if (i == n) return e;
    }
}

static Py_ssize_t vocab_find(Vocabulary *v, PyObject *s) {
    return vocab_find_chars(v, PyUnicode_KIND(s), PyUnicode_DATA(s), PyUnicode_GET_LENGTH(s));
}

/* the entry of token[:-3] + "y" (an ASCII token of at least four characters), or -1 */
static Py_ssize_t vocab_find_ies(Vocabulary *v, const Py_UCS1 *token, Py_ssize_t length) {
    Py_UCS1 small[64];
    Py_UCS1 *key = length - 2 <= 64 ? small : malloc((size_t)(length - 2));
    if (!key) return -1;
    memcpy(key, token, (size_t)(length - 3));
    key[length - 3] = 'y';
    Py_ssize_t e = vocab_find_chars(v, PyUnicode_1BYTE_KIND, key, length - 2);
    if (key != small) free(key);
    return e;
}

static void vocab_dealloc(Vocabulary *v) {
    free(v->pool); free(v->offset); free(v->length); free(v->value); free(v->hash); free(v->slots);
    Py_TYPE(v)->tp_free((PyObject *)v);
}

static int vocab_alloc(Vocabulary *v, Py_ssize_t n, Py_ssize_t total) {
    uint64_t cap = 16;
    while (cap < (uint64_t)n * 2 + 2) cap <<= 1;
    v->pool = malloc(sizeof(Py_UCS4) * (size_t)(total + 1));
    v->offset = malloc(sizeof(int64_t) * (size_t)(n + 1));
    v->length = malloc(sizeof(int32_t) * (size_t)(n + 1));
    v->value = malloc(sizeof(int64_t) * (size_t)(n + 1));
    v->hash = malloc(sizeof(uint64_t) * (size_t)(n + 1));
    v->slots = calloc((size_t)cap, sizeof(int32_t));
    if (!v->pool || !v->offset || !v->length || !v->value || !v->hash || !v->slots) { PyErr_NoMemory(); return -1; }
    v->mask = cap - 1;
    v->n = 0;
    v->used = 0;
    return 0;
}

/* add a key (as a dict does: a key added again takes the new value); room was allocated */
static void vocab_insert(Vocabulary *v, int kind, const void *data, Py_ssize_t len, int64_t value) {
    Py_ssize_t found = vocab_find_chars(v, kind, data, len);
    if (found >= 0) { v->value[found] = value; return; }
    Py_ssize_t e = v->n++;
    v->offset[e] = v->used;
    v->length[e] = (int32_t)len;
    v->value[e] = value;
    v->hash[e] = hash_chars(kind, data, len);
    for (Py_ssize_t j = 0; j < len; j++) v->pool[v->used++] = PyUnicode_READ(kind, data, j);
    uint64_t slot = v->hash[e] & v->mask;
    while (v->slots[slot]) slot = (slot + 1) & v->mask;
    v->slots[slot] = (int32_t)(e + 1);
}

static int vocab_init(Vocabulary *v, PyObject *args, PyObject *kwds) {
    PyObject *keys, *values;
    if (!PyArg_ParseTuple(args, "OO:Vocabulary", &keys, &values)) return -1;
    keys = PySequence_Fast(keys, "keys must be a sequence of str");
    if (!keys) return -1;
    values = PySequence_Fast(values, "values must be a sequence of int");
    if (!values) { Py_DECREF(keys); return -1; }
    Py_ssize_t n = PySequence_Fast_GET_SIZE(keys), total = 0;
    if (PySequence_Fast_GET_SIZE(values) != n || n >= INT32_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "keys and values differ in length (or too many)");
        goto fail;
    }
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PySequence_Fast_GET_ITEM(keys, i);
        if (!PyUnicode_Check(k)) { PyErr_SetString(PyExc_TypeError, "keys must be str"); goto fail; }
        total += PyUnicode_GET_LENGTH(k);
    }
    if (vocab_alloc(v, n, total) < 0) goto fail;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *k = PySequence_Fast_GET_ITEM(keys, i);
        long long value = PyLong_AsLongLong(PySequence_Fast_GET_ITEM(values, i));
        if (value == -1 && PyErr_Occurred()) goto fail;
        vocab_insert(v, PyUnicode_KIND(k), PyUnicode_DATA(k), PyUnicode_GET_LENGTH(k), value);
    }
    Py_DECREF(keys);
    Py_DECREF(values);
    return 0;
fail:
    Py_DECREF(keys);
    Py_DECREF(values);
    return -1;
}

/* one UTF-8 line decoded into `out` (room for `n` code points); its length, or -1 if invalid */
static Py_ssize_t decode_utf8(const unsigned char *s, Py_ssize_t n, Py_UCS4 *out) {
    Py_ssize_t i = 0, k = 0;
    while (i < n) {
        unsigned char c = s[i];
        Py_UCS4 cp;
        int more;
        if (c < 0x80) { cp = c; more = 0; }
        else if ((c & 0xE0) == 0xC0) { cp = c & 0x1F; more = 1; }
        else if ((c & 0xF0) == 0xE0) { cp = c & 0x0F; more = 2; }
        else if ((c & 0xF8) == 0xF0) { cp = c & 0x07; more = 3; }
        else return -1;
        if (i + more >= n + (more ? 0 : 1) && more) return -1;
        for (int m = 1; m <= more; m++) {
            if (i + m >= n || (s[i + m] & 0xC0) != 0x80) return -1;
            cp = (cp << 6) | (s[i + m] & 0x3F);
        }
        if (cp > 0x10FFFF) return -1;
        out[k++] = cp;
        i += more + 1;
    }
    return k;
}

static PyObject *vocabulary_from_lines(PyObject *self, PyObject *args) {
    Py_buffer blob, cv;
    PyObject *column_obj;
    if (!PyArg_ParseTuple(args, "y*O:vocabulary_from_lines", &blob, &column_obj)) return NULL;
    const int64_t *columns;
    Py_ssize_t n_columns;
    if (get_i64(column_obj, &cv, &columns, &n_columns) < 0) { PyBuffer_Release(&blob); return NULL; }
    const unsigned char *s = blob.buf;
    Py_ssize_t n = blob.len;
    Vocabulary *v = (Vocabulary *)PyType_GenericNew(&VocabularyType, NULL, NULL);
    Py_UCS4 *line = malloc(sizeof(Py_UCS4) * (size_t)(n + 1));
    if (!v || !line || vocab_alloc(v, n_columns, n) < 0) {
        if (!line) PyErr_NoMemory();
        goto fail;
    }
    Py_ssize_t at = 0, index = 0, want = 0;
    while (want < n_columns && at <= n) {
        Py_ssize_t stop = at;
        while (stop < n && s[stop] != '\n') stop++;
        if (index == columns[want]) {
            Py_ssize_t len = decode_utf8(s + at, stop - at, line);
            if (len < 0) { PyErr_SetString(PyExc_ValueError, "vocabulary_from_lines: invalid UTF-8"); goto fail; }
            vocab_insert(v, PyUnicode_4BYTE_KIND, line, len, index);
            want++;
            if (want < n_columns && columns[want] <= columns[want - 1]) {
                PyErr_SetString(PyExc_ValueError, "vocabulary_from_lines: columns must ascend");
                goto fail;
            }
        }
        at = stop + 1;
        index++;
    }
    if (want < n_columns) { PyErr_SetString(PyExc_ValueError, "vocabulary_from_lines: a column past the last line"); goto fail; }
    free(line);
    PyBuffer_Release(&blob);
    PyBuffer_Release(&cv);
    return (PyObject *)v;
fail:
    free(line);
    Py_XDECREF(v);
    PyBuffer_Release(&blob);
    PyBuffer_Release(&cv);
    return NULL;
}

static PyObject *vocab_get(Vocabulary *v, PyObject *key) {
    if (!PyUnicode_Check(key)) { PyErr_SetString(PyExc_TypeError, "expected a str"); return NULL; }
    Py_ssize_t e = vocab_find(v, key);
    return PyLong_FromLongLong(e < 0 ? -1 : v->value[e]);
}

static Py_ssize_t vocab_len(Vocabulary *v) { return v->n; }

/* The unigram and pair output of one token's code (see word_grams). */
typedef struct {
    Out rows, cols;
    const int64_t *pairs, *pair_columns;
    Py_ssize_t n_pairs;
    int64_t width, previous;
    int bigrams;
} Grams;

static inline int grams_add(Grams *g, int32_t row, int64_t code) {
    if (code >= 0) {
        if (out_i32(&g->rows, row) < 0 || out_i32(&g->cols, (int32_t)code) < 0) return -1;
        if (g->bigrams && g->previous >= 0) {
            Py_ssize_t at = bisect(g->pairs, g->n_pairs, g->previous * g->width + code);
            if (at >= 0 && (out_i32(&g->rows, row) < 0 || out_i32(&g->cols, (int32_t)g->pair_columns[at]) < 0)) return -1;
        }
    }
    g->previous = code;
    return 0;
}

static inline int is_digit(Py_UCS1 c) { return c >= '0' && c <= '9'; }
static inline int is_letter(Py_UCS1 c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
static inline int is_alnum(Py_UCS1 c) { return is_digit(c) || is_letter(c); }
static inline int is_word(Py_UCS1 c) { return is_alnum(c) || c == '_'; }

/* tokenize._word_tokens of a pure-ASCII text, each token's code added as it is found:
 * tokenize._ASCII_WORD_TOKEN.findall, numbers masked by tokenize._number, and, when `stem`,
 * tokenize._stem_plurals. */
static int ascii_word_codes(Vocabulary *v, Grams *g, int32_t row, const Py_UCS1 *s, Py_ssize_t n, int stem) {
    Py_UCS1 buffer[8];
    Py_ssize_t i = 0;
    while (i < n) {
        Py_UCS1 c = s[i];
        if (!is_alnum(c)) { i++; continue; }
        Py_ssize_t j = i + 1;
        const Py_UCS1 *token = s + i;
        Py_ssize_t length;
        if (is_digit(c)) {  /* [0-9]+(?:[.,][0-9]+)*%? */
            while (j < n && is_digit(s[j])) j++;
            while (j + 1 < n && (s[j] == '.' || s[j] == ',') && is_digit(s[j + 1])) {
                j += 2;
                while (j < n && is_digit(s[j])) j++;
            }
            if (j < n && s[j] == '%') j++;
            int year = j - i == 4 && s[i + 2] >= '0' && s[i + 2] <= '9' && s[i + 3] >= '0' && s[i + 3] <= '9'
                       && ((s[i] == '1' && s[i + 1] == '9') || (s[i] == '2' && s[i + 1] == '0'));
            memcpy(buffer, year ? "<year>" : "<num>", year ? 6 : 5);
            token = buffer;
            length = year ? 6 : 5;
        } else {
            /* (?<![0-9A-Za-z]'[A-Za-z]): a possessive's "s" starts no word */
            if (i >= 2 && s[i - 1] == '\'' && is_alnum(s[i - 2])) { i++; continue; }
            while (j < n && is_alnum(s[j])) j++;
            for (;;) {  /* (?:-[A-Za-z][0-9A-Za-z]*|'(?!s\b)[A-Za-z][0-9A-Za-z]*)* */
                if (j + 1 < n && s[j] == '-' && is_letter(s[j + 1])) {
                } else if (j + 1 < n && s[j] == '\'' && is_letter(s[j + 1])
                           && !(s[j + 1] == 's' && (j + 2 == n || !is_word(s[j + 2])))) {
                } else {
                    break;
                }
                j += 2;
                while (j < n && is_alnum(s[j])) j++;
            }
            length = j - i;
            if (stem && length >= 4 && token[length - 1] == 's' && token[length - 2] != 'u' && token[length - 2] != 's') {
                if (token[length - 3] == 'i' && token[length - 2] == 'e' && token[length - 4] != 'a' && token[length - 4] != 'e') {
                    /* -ies -> -y: the token without its last three characters, then "y" */
                    Py_ssize_t at = vocab_find_ies(v, token, length);
                    if (grams_add(g, row, at < 0 ? -1 : v->value[at]) < 0) return -1;
                    i = j;
                    continue;
                }
                length -= 1;
            }
        }
        Py_ssize_t e = vocab_find_chars(v, PyUnicode_1BYTE_KIND, token, length);
        if (grams_add(g, row, e < 0 ? -1 : v->value[e]) < 0) return -1;
        i = j;
    }
    return 0;
}

static PyObject *vocab_word_grams(Vocabulary *v, PyObject *args) {
    PyObject *items, *pair_obj, *column_obj;
    long long width;
    int bigrams, stem;
    if (!PyArg_ParseTuple(args, "OOOLpp:word_grams", &items, &pair_obj, &column_obj, &width, &bigrams, &stem))
        return NULL;
    if (!PyList_Check(items)) { PyErr_SetString(PyExc_TypeError, "expected a list"); return NULL; }
    Py_buffer pv, cv;
    Grams g;
    Py_ssize_t n_columns;
    if (get_i64(pair_obj, &pv, &g.pairs, &g.n_pairs) < 0) return NULL;
    if (get_i64(column_obj, &cv, &g.pair_columns, &n_columns) < 0) { PyBuffer_Release(&pv); return NULL; }
    g.width = width;
    g.bigrams = bigrams && g.n_pairs > 0;
    Py_ssize_t n = PyList_GET_SIZE(items), guess = 0;
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *item = PyList_GET_ITEM(items, r);
        guess += PyList_Check(item) ? PyList_GET_SIZE(item) : PyUnicode_Check(item) ? PyUnicode_GET_LENGTH(item) / 6 : 0;
    }
    if (out_init(&g.rows, guess * 2, 4) < 0) { PyBuffer_Release(&pv); PyBuffer_Release(&cv); return NULL; }
    if (out_init(&g.cols, guess * 2, 4) < 0) { out_free(&g.rows); PyBuffer_Release(&pv); PyBuffer_Release(&cv); return NULL; }
    for (Py_ssize_t r = 0; r < n; r++) {
        PyObject *item = PyList_GET_ITEM(items, r);
        g.previous = -1;
        if (PyUnicode_Check(item) && PyUnicode_IS_ASCII(item)) {
            if (ascii_word_codes(v, &g, (int32_t)r, PyUnicode_1BYTE_DATA(item), PyUnicode_GET_LENGTH(item), stem) < 0)
                goto fail;
            continue;
        }
        if (!PyList_Check(item)) {
            PyErr_SetString(PyExc_TypeError, "each item must be a list of tokens or a pure-ASCII str");
            goto fail;
        }
        Py_ssize_t m = PyList_GET_SIZE(item);
        for (Py_ssize_t i = 0; i < m; i++) {
            PyObject *token = PyList_GET_ITEM(item, i);
            if (!PyUnicode_Check(token)) { PyErr_SetString(PyExc_TypeError, "tokens must be str"); goto fail; }
            Py_ssize_t e = vocab_find(v, token);
            if (grams_add(&g, (int32_t)r, e < 0 ? -1 : v->value[e]) < 0) goto fail;
        }
    }
    PyBuffer_Release(&pv);
    PyBuffer_Release(&cv);
    return pair_of(&g.rows, &g.cols);
fail:
    out_free(&g.rows);
    out_free(&g.cols);
    PyBuffer_Release(&pv);
    PyBuffer_Release(&cv);
    return NULL;
}

static PyMethodDef vocab_methods[] = {
    {"get", (PyCFunction)vocab_get, METH_O, "The value of a key, or -1."},
    {"word_grams", (PyCFunction)vocab_word_grams, METH_VARARGS,
     "(rows, columns) as int32 bytes: known tokens and known pairs of neighbouring known tokens."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods vocab_as_sequence = {.sq_length = (lenfunc)vocab_len};

static PyTypeObject VocabularyType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classifier.text._scan.Vocabulary",
    .tp_basicsize = sizeof(Vocabulary),
    .tp_dealloc = (destructor)vocab_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Vocabulary(keys, values): a str -> int table hashed over code points.",
    .tp_methods = vocab_methods,
    .tp_as_sequence = &vocab_as_sequence,
    .tp_init = (initproc)vocab_init,
    .tp_new = PyType_GenericNew,
};

/* == Automaton ============================================================================= */
typedef struct {
    PyObject_HEAD
    int32_t *fail;      /* per node: fail node, -1 for the root's */
    int32_t *output;    /* per node: word index, -1 when no word ends here */
    int32_t *first;     /* per node: first child (for building), -1 */
    int32_t *sibling;   /* per node: next sibling (for building), -1 */
    Py_UCS4 *letter;    /* per node: the letter that leads to it */
    uint64_t *edge_key; /* transitions: (node << 21 | letter) + 1, 0 = empty */
    int32_t *edge_to;
    uint64_t mask;
    Py_ssize_t nodes;
} Automaton;

static inline uint64_t edge_of(int32_t node, Py_UCS4 letter) { return (((uint64_t)node << 21) | letter) + 1; }

static inline int32_t next_node(const Automaton *a, int32_t node, Py_UCS4 letter) {
    uint64_t key = edge_of(node, letter);
    for (uint64_t at = mix(key) & a->mask;; at = (at + 1) & a->mask) {
        uint64_t k = a->edge_key[at];
        if (k == key) return a->edge_to[at];
        if (!k) return -1;
    }
}

static void automaton_dealloc(Automaton *a) {
    free(a->fail); free(a->output); free(a->first); free(a->sibling); free(a->letter);
    free(a->edge_key); free(a->edge_to);
    Py_TYPE(a)->tp_free((PyObject *)a);
}

static int automaton_init(Automaton *a, PyObject *args, PyObject *kwds) {
    PyObject *words;
    if (!PyArg_ParseTuple(args, "O:Automaton", &words)) return -1;
    words = PySequence_Fast(words, "words must be a sequence of str");
    if (!words) return -1;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(words), total = 1;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PySequence_Fast_GET_ITEM(words, i);
        if (!PyUnicode_Check(w)) { PyErr_SetString(PyExc_TypeError, "words must be str"); Py_DECREF(words); return -1; }
        total += PyUnicode_GET_LENGTH(w);
    }
    if (total >= INT32_MAX / 4) { PyErr_SetString(PyExc_ValueError, "too many letters"); Py_DECREF(words); return -1; }
    uint64_t cap = 16;
    while (cap < (uint64_t)total * 2 + 2) cap <<= 1;
    a->fail = malloc(sizeof(int32_t) * (size_t)total);
    a->output = malloc(sizeof(int32_t) * (size_t)total);
    a->first = malloc(sizeof(int32_t) * (size_t)total);
    a->sibling = malloc(sizeof(int32_t) * (size_t)total);
    a->letter = malloc(sizeof(Py_UCS4) * (size_t)total);
    a->edge_key = calloc((size_t)cap, sizeof(uint64_t));
    a->edge_to = malloc(sizeof(int32_t) * (size_t)cap);
    if (!a->fail || !a->output || !a->first || !a->sibling || !a->letter || !a->edge_key || !a->edge_to) {
        PyErr_NoMemory();
        Py_DECREF(words);
        return -1;
    }
    a->mask = cap - 1;
    a->nodes = 1;
    a->fail[0] = -1; a->output[0] = -1; a->first[0] = -1; a->sibling[0] = -1; a->letter[0] = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *w = PySequence_Fast_GET_ITEM(words, i);
        int kind = PyUnicode_KIND(w);
        const void *data = PyUnicode_DATA(w);
        Py_ssize_t len = PyUnicode_GET_LENGTH(w);
        if (!len) continue;  /* pyahocorasick ignores an empty word */
        int32_t node = 0;
        for (Py_ssize_t j = 0; j < len; j++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, j);
            int32_t child = next_node(a, node, c);
            if (child < 0) {
                child = (int32_t)a->nodes++;
                a->fail[child] = -1; a->output[child] = -1; a->first[child] = -1; a->letter[child] = c;
                a->sibling[child] = a->first[node];
                a->first[node] = child;
                uint64_t key = edge_of(node, c), at = mix(key) & a->mask;
                while (a->edge_key[at]) at = (at + 1) & a->mask;
                a->edge_key[at] = key;
                a->edge_to[at] = child;
            }
            node = child;
        }
        a->output[node] = (int32_t)i;  /* a word added again keeps the last value */
    }
    Py_DECREF(words);
    /* fail links, breadth first (pyahocorasick's make_automaton) */
    int32_t *queue = malloc(sizeof(int32_t) * (size_t)a->nodes);
    if (!queue) { PyErr_NoMemory(); return -1; }
    Py_ssize_t head = 0, tail = 0;
    for (int32_t c = a->first[0]; c >= 0; c = a->sibling[c]) { a->fail[c] = 0; queue[tail++] = c; }
    while (head < tail) {
        int32_t node = queue[head++];
        for (int32_t c = a->first[node]; c >= 0; c = a->sibling[c]) {
            queue[tail++] = c;
            int32_t state = a->fail[node];
            while (state != 0 && next_node(a, state, a->letter[c]) < 0) state = a->fail[state];
            int32_t target = next_node(a, state, a->letter[c]);
            a->fail[c] = target >= 0 ? target : 0;
        }
    }
    free(queue);
    return 0;
}

static PyObject *automaton_iter_long(Automaton *a, PyObject *text) {
    if (!PyUnicode_Check(text)) { PyErr_SetString(PyExc_TypeError, "expected a str"); return NULL; }
    int kind = PyUnicode_KIND(text);
    const void *w = PyUnicode_DATA(text);
    Py_ssize_t end = PyUnicode_GET_LENGTH(text);
    Out lasts, found;
    if (out_init(&lasts, end / 16, 8) < 0) return NULL;
    if (out_init(&found, end / 16, 4) < 0) { out_free(&lasts); return NULL; }
    /* AutomatonSearchIterLong.next, one call per match, as one loop */
    int32_t state = 0, last_node = -1;
    Py_ssize_t index = -1, last_index = -1;
    for (;;) {
        if (last_node >= 0) {
            if (out_i64(&lasts, last_index) < 0 || out_i32(&found, a->output[last_node]) < 0) goto fail;
            state = 0;
            index = last_index;
            last_node = -1;
            last_index = -1;
        }
        index += 1;
        int emit = 0;
        while (index < end) {
            int32_t next = next_node(a, state, PyUnicode_READ(kind, w, index));
            if (next >= 0) {
                if (a->output[next] >= 0) {
                    last_node = next;
                    last_index = index;
                } else {
                    int32_t f = a->fail[next];
                    if (f > 0 && a->output[f] >= 0) {
                        int32_t next2 = index + 1 >= end ? -1 : next_node(a, next, PyUnicode_READ(kind, w, index + 1));
                        if (next2 < 0) {
                            last_node = f;
                            last_index = index;
                            emit = 1;
                            break;
                        }
                    }
                }
                state = next;
                index += 1;
            } else if (last_node >= 0) {
                emit = 1;
                break;
            } else {
                for (;;) {
                    state = a->fail[state];
                    if (state < 0) {
                        state = 0;
                        index += 1;
                        break;
                    }
                    if (next_node(a, state, PyUnicode_READ(kind, w, index)) >= 0) break;
                }
            }
        }
        if (!emit && last_node < 0) break;
    }
    return pair_of(&lasts, &found);
fail:
    out_free(&lasts);
    out_free(&found);
    return NULL;
}

static PyMethodDef automaton_methods[] = {
    {"iter_long", (PyCFunction)automaton_iter_long, METH_O,
     "(last positions as int64 bytes, word indices as int32 bytes): pyahocorasick's iter_long."},
    {NULL, NULL, 0, NULL},
};

static PyTypeObject AutomatonType = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "classifier.text._scan.Automaton",
    .tp_basicsize = sizeof(Automaton),
    .tp_dealloc = (destructor)automaton_dealloc,
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_doc = "Automaton(words): Aho-Corasick over code points; a match's value is its word's index.",
    .tp_methods = automaton_methods,
    .tp_init = (initproc)automaton_init,
    .tp_new = PyType_GenericNew,
};

/* == Han character grams =================================================================== */
static inline int is_han(Py_UCS4 c) { return (c >= 0x3400 && c <= 0x9FFF) || (c >= 0xF900 && c <= 0xFAFF); }

static PyObject *han_grams(PyObject *self, PyObject *args) {
    PyObject *texts, *uni_obj, *key_obj, *column_obj;
    if (!PyArg_ParseTuple(args, "OOOO:han_grams", &texts, &uni_obj, &key_obj, &column_obj)) return NULL;
    texts = PySequence_Fast(texts, "texts must be a sequence of str");
    if (!texts) return NULL;
    Py_buffer uv, kv, cv;
    const int64_t *unigram, *keys, *columns;
    Py_ssize_t n_uni, n_keys, n_columns;
    if (get_i64(uni_obj, &uv, &unigram, &n_uni) < 0) { Py_DECREF(texts); return NULL; }
    if (n_uni < 0x10000) {
        PyErr_SetString(PyExc_ValueError, "the unigram table needs 0x10000 entries");
        PyBuffer_Release(&uv); Py_DECREF(texts); return NULL;
    }
    if (get_i64(key_obj, &kv, &keys, &n_keys) < 0) { PyBuffer_Release(&uv); Py_DECREF(texts); return NULL; }
    if (get_i64(column_obj, &cv, &columns, &n_columns) < 0) {
        PyBuffer_Release(&uv); PyBuffer_Release(&kv); Py_DECREF(texts); return NULL;
    }
    Out rows, cols;
    Py_ssize_t n = PySequence_Fast_GET_SIZE(texts);
    int ok = out_init(&rows, 1024, 4) == 0;
    if (ok && out_init(&cols, 1024, 4) < 0) { out_free(&rows); ok = 0; }
    for (Py_ssize_t r = 0; ok && r < n; r++) {
        PyObject *t = PySequence_Fast_GET_ITEM(texts, r);
        if (!PyUnicode_Check(t)) { PyErr_SetString(PyExc_TypeError, "texts must be str"); ok = 0; break; }
        int kind = PyUnicode_KIND(t);
        if (kind == PyUnicode_1BYTE_KIND) continue;  /* Latin-1 only: no Han character */
        const void *data = PyUnicode_DATA(t);
        Py_ssize_t len = PyUnicode_GET_LENGTH(t);
        int previous_han = 0;
        Py_UCS4 previous = 0;
        for (Py_ssize_t i = 0; i < len; i++) {
            Py_UCS4 c = PyUnicode_READ(kind, data, i);
            if (!is_han(c)) { previous_han = 0; continue; }
            int64_t column = unigram[c];
            if (column >= 0 && (out_i32(&rows, (int32_t)r) < 0 || out_i32(&cols, (int32_t)column) < 0)) { ok = 0; break; }
            if (previous_han && n_keys) {
                Py_ssize_t at = bisect(keys, n_keys, ((int64_t)previous << 16) | (int64_t)c);
                if (at >= 0 && (out_i32(&rows, (int32_t)r) < 0 || out_i32(&cols, (int32_t)columns[at]) < 0)) { ok = 0; break; }
            }
            previous_han = 1;
            previous = c;
        }
    }
    PyBuffer_Release(&uv); PyBuffer_Release(&kv); PyBuffer_Release(&cv);
    Py_DECREF(texts);
    if (!ok) {
        if (rows.data) { out_free(&rows); out_free(&cols); }
        return NULL;
    }
    return pair_of(&rows, &cols);
}

/* == Linear scores ========================================================================= */
static int get_f64(PyObject *obj, Py_buffer *view, const double **data, Py_ssize_t *n) {
    if (PyObject_GetBuffer(obj, view, PyBUF_C_CONTIGUOUS | PyBUF_FORMAT) < 0) return -1;
    if (view->itemsize != 8 || !view->format || (strcmp(view->format, "d") && strcmp(view->format, "<d"))) {
        PyBuffer_Release(view);
        PyErr_SetString(PyExc_TypeError, "expected a contiguous float64 array");
        return -1;
    }
    *data = (const double *)view->buf;
    *n = view->len / 8;
    return 0;
}

static PyObject *linear_scores(PyObject *self, PyObject *args) {
    PyObject *row_obj, *column_obj, *value_obj, *coef_obj;
    Py_ssize_t n, labels;
    if (!PyArg_ParseTuple(args, "OOOOnn:linear_scores", &row_obj, &column_obj, &value_obj, &coef_obj, &n, &labels))
        return NULL;
    Py_buffer rv, cv, vv, wv;
    const int64_t *rows, *columns;
    const double *values, *coef;
    Py_ssize_t n_rows, n_columns, n_values, n_coef;
    if (get_i64(row_obj, &rv, &rows, &n_rows) < 0) return NULL;
    if (get_i64(column_obj, &cv, &columns, &n_columns) < 0) { PyBuffer_Release(&rv); return NULL; }
    if (get_f64(value_obj, &vv, &values, &n_values) < 0) { PyBuffer_Release(&rv); PyBuffer_Release(&cv); return NULL; }
    if (get_f64(coef_obj, &wv, &coef, &n_coef) < 0) {
        PyBuffer_Release(&rv); PyBuffer_Release(&cv); PyBuffer_Release(&vv); return NULL;
    }
    PyObject *result = NULL;
    Py_ssize_t width = labels > 0 ? n_coef / labels : 0;
    if (n_rows != n_columns || n_rows != n_values || labels <= 0 || n < 0 || width * labels != n_coef) {
        PyErr_SetString(PyExc_ValueError, "linear_scores: arrays of different lengths");
        goto done;
    }
    result = PyBytes_FromStringAndSize(NULL, (Py_ssize_t)(n * labels * sizeof(double)));
    if (!result) goto done;
    double *out = (double *)PyBytes_AS_STRING(result);
    memset(out, 0, (size_t)(n * labels) * sizeof(double));
    for (Py_ssize_t i = 0; i < n_rows; i++) {
        int64_t r = rows[i], c = columns[i];
        if (r < 0 || r >= n || c < 0 || c >= width) {
            PyErr_SetString(PyExc_IndexError, "linear_scores: a row or column out of range");
            Py_CLEAR(result);
            goto done;
        }
        double v = values[i];
        double *line = out + r * labels;
        for (Py_ssize_t j = 0; j < labels; j++) {
            /* one rounding for the product, one for the sum: what numpy's multiply then
               bincount does (the build turns off fused multiply-add contraction) */
            double product = v * coef[j * width + c];
            line[j] += product;
        }
    }
done:
    PyBuffer_Release(&rv); PyBuffer_Release(&cv); PyBuffer_Release(&vv); PyBuffer_Release(&wv);
    return result;
}

static PyMethodDef module_methods[] = {
    {"han_grams", han_grams, METH_VARARGS,
     "(rows, columns) as int32 bytes: the known Han character unigrams and bigrams of each text."},
    {"vocabulary_from_lines", vocabulary_from_lines, METH_VARARGS,
     "A Vocabulary of the lines (UTF-8, split at line breaks) at the ascending `columns`, each to its line number."},
    {"linear_scores", linear_scores, METH_VARARGS,
     "(n, labels) float64 bytes: per row, the sum in array order of value * coef[label, column]."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef module = {
    PyModuleDef_HEAD_INIT, "_scan",
    "The batch path's innermost loops over code points (optional; see classifier.text.scan).",
    -1, module_methods,
};

PyMODINIT_FUNC PyInit__scan(void) {
    if (PyType_Ready(&VocabularyType) < 0 || PyType_Ready(&AutomatonType) < 0) return NULL;
    PyObject *m = PyModule_Create(&module);
    if (!m) return NULL;
    /* classifier.text.scan uses the module only when this matches its VERSION: a build left
       over from an older source then falls back to Python instead of failing */
    if (PyModule_AddIntConstant(m, "VERSION", 1) < 0) { Py_DECREF(m); return NULL; }
    Py_INCREF(&VocabularyType);
    Py_INCREF(&AutomatonType);
    if (PyModule_AddObject(m, "Vocabulary", (PyObject *)&VocabularyType) < 0
        || PyModule_AddObject(m, "Automaton", (PyObject *)&AutomatonType) < 0) {
        Py_DECREF(m);
        return NULL;
    }
    return m;
}
