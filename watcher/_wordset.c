/* A set of normalised words that says which words of a plain text it lacks (or holds), in one pass.
 *
 * The matcher asks this of every field of every item: which of its words are neither known
 * English words nor already judged (``watcher.matcher``). In Python that is a split into ~250 new
 * strings, a set of them and a set difference; here the text is read once, each word folded,
 * hashed and looked up in place, and only the few words the caller needs become Python strings.
 * ``watcher.wordset`` wraps it and falls back to Python when this module was not built: both
 * must give the same answers (tests/test_wordset.py).
 *
 * Words are those of ``watcher.text.words`` for text that folds to ASCII (``text.ascii_fold``):
 * runs of ASCII letters and digits, lower-cased, after a possessive "'s" is dropped and each
 * non-ASCII character folded. What a non-ASCII character folds to (letters, a separator or an
 * apostrophe) is asked once of ``text.fold_char``, through ``set_folder``, and remembered. A
 * text with a letter that does not fold to ASCII (other scripts) is left to Python: None.
 *
 * Words are found through an open-addressing table of 16-byte slots: the first 8 bytes of the
 * word (zero-padded: a word has no NUL, so an empty slot is all zero), 32 bits of its hash, and
 * where the rest of a longer word is stored (its length, then its bytes) in an arena.
 */
#define PY_SSIZE_T_CLEAN
#include <Python.h>
#include <stdint.h>
#include <string.h>

#define SHORT ((uint32_t)-1) /* the offset of a word of at most 8 bytes: nothing in the arena */

typedef struct {
    uint64_t head;
    uint32_t hash;
    uint32_t offset;
} Slot;

typedef struct {
    PyObject_HEAD
    Slot *slots;
    size_t mask; /* capacity - 1, a power of two */
    size_t used;
    char *arena;
    size_t arena_used;
    size_t arena_capacity;
} WordSet;

/* -- characters ---------------------------------------------------------------------------- */

/* An ASCII character as part of a word: lower-cased letters and digits; 0 for a separator. */
static unsigned char word_byte[128];

enum { FOLD_UNKNOWN, FOLD_LETTERS, FOLD_SEPARATOR, FOLD_APOSTROPHE, FOLD_OTHER };

#define MAX_FOLDED 6

typedef struct {
    unsigned char kind;
    unsigned char length;
    char letters[MAX_FOLDED];
} Fold;

static PyObject *folder;          /* text.fold_char */
static Fold bmp_folds[0x10000]; /* what each non-ASCII character of the BMP folds to, once asked */

/* Ask ``folder`` what ``c`` folds to: 0 on success, -1 with an exception set. */
static int ask_fold(Py_UCS4 c, Fold *fold) {
    if (folder == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "watcher._wordset.set_folder was not called");
        return -1;
    }
    PyObject *character = PyUnicode_FromOrdinal((int)c);
    if (character == NULL) return -1;
    PyObject *folded = PyObject_CallOneArg(folder, character);
    Py_DECREF(character);
    if (folded == NULL) return -1;
    Fold result = {FOLD_OTHER, 0, {0}};
    if (folded != Py_None) {
        if (!PyUnicode_Check(folded) || !PyUnicode_IS_ASCII(folded) || PyUnicode_GET_LENGTH(folded) == 0) {
            PyErr_SetString(PyExc_ValueError, "the folder must return None or a non-empty ASCII str");
            Py_DECREF(folded);
            return -1;
        }
        const unsigned char *data = PyUnicode_1BYTE_DATA(folded);
        Py_ssize_t length = PyUnicode_GET_LENGTH(folded);
        if (length == 1 && data[0] == ' ') {
            result.kind = FOLD_SEPARATOR;
        } else if (length == 1 && data[0] == '\'') {
            result.kind = FOLD_APOSTROPHE;
        } else if (length <= MAX_FOLDED) {
            result.kind = FOLD_LETTERS;
            result.length = (unsigned char)length;
            for (Py_ssize_t i = 0; i < length; i++) {
                if (word_byte[data[i]] == 0) {
                    PyErr_SetString(PyExc_ValueError, "the folder must return letters and digits, ' ' or \"'\"");
                    Py_DECREF(folded);
                    return -1;
                }
                result.letters[i] = (char)word_byte[data[i]];
            }
        } /* longer: left to Python, as FOLD_OTHER */
    }
    Py_DECREF(folded);
    *fold = result;
    return 0;
}

/* What a non-ASCII character folds to: 0 on success, -1 with an exception set. */
static inline int fold_of(Py_UCS4 c, Fold *fold) {
    if (c < 0x10000) {
        if (bmp_folds[c].kind == FOLD_UNKNOWN && ask_fold(c, &bmp_folds[c]) < 0) return -1;
        *fold = bmp_folds[c];
        return 0;
    }
    return ask_fold(c, fold);
}

/* Whether ``c`` continues a word after "'s" (then not a possessive), as ``text._POSSESSIVE`` sees
 * it: a letter or digit, but not an apostrophe that ``text._prepare`` unified; -1 on error. */
static int continues_word(Py_UCS4 c) {
    if (c < 128) return word_byte[c] != 0;
    Fold fold;
    if (fold_of(c, &fold) < 0) return -1;
    return fold.kind != FOLD_APOSTROPHE && Py_UNICODE_ISALNUM(c);
}

/* -- the table ------------------------------------------------------------------------------ */

static inline uint64_t head_of(const char *word, size_t length) {
    uint64_t head = 0;
    if (length >= 8) {
        memcpy(&head, word, 8); /* a constant size: one load */
    } else {
        for (size_t i = 0; i < length; i++) head |= (uint64_t)(unsigned char)word[i] << (8 * i);
    }
    return head;
}

static inline uint32_t hash_of(const char *word, size_t length, uint64_t head) {
    uint64_t hash = (head ^ length) * 0x9E3779B97F4A7C15ULL;
    for (size_t i = 8; i < length; i += 8) {
        uint64_t chunk = head_of(word + i, length - i);
        hash = ((hash ^ (hash >> 29)) ^ chunk) * 0xBF58476D1CE4E5B9ULL;
    }
    hash ^= hash >> 31;
    hash *= 0x94D049BB133111EBULL;
    return (uint32_t)(hash >> 32) ^ (uint32_t)hash;
}

static inline int same_word(const WordSet *self, const Slot *slot, const char *word, size_t length) {
    if (length <= 8) return slot->offset == SHORT;
    if (slot->offset == SHORT) return 0;
    const char *stored = self->arena + slot->offset;
    uint32_t stored_length;
    memcpy(&stored_length, stored, sizeof stored_length);
    return stored_length == length && memcmp(stored + sizeof stored_length, word + 8, length - 8) == 0;
}

static int contains(const WordSet *self, const char *word, size_t length) {
    uint64_t head = head_of(word, length);
    uint32_t hash = hash_of(word, length, head);
    for (size_t i = hash & self->mask;; i = (i + 1) & self->mask) {
        const Slot *slot = &self->slots[i];
        if (slot->head == 0) return 0;
        if (slot->hash == hash && slot->head == head && same_word(self, slot, word, length)) return 1;
    }
}

static int grow_table(WordSet *self) {
    size_t capacity = (self->mask + 1) * 2;
    Slot *slots = PyMem_Calloc(capacity, sizeof(Slot));
    if (slots == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    for (size_t i = 0; i <= self->mask; i++) {
        if (self->slots[i].head == 0) continue;
        size_t j = self->slots[i].hash & (capacity - 1);
        while (slots[j].head != 0) j = (j + 1) & (capacity - 1);
        slots[j] = self->slots[i];
    }
    PyMem_Free(self->slots);
    self->slots = slots;
    self->mask = capacity - 1;
    return 0;
}

/* Add a word (UTF-8 bytes, no NUL); 0 on success, -1 with an exception set. */
static int add_bytes(WordSet *self, const char *word, size_t length) {
    if (length == 0 || contains(self, word, length)) return 0;
    if (memchr(word, 0, length) != NULL) {
        PyErr_SetString(PyExc_ValueError, "a word cannot contain NUL");
        return -1;
    }
    if (length > UINT32_MAX / 2) {
        PyErr_SetString(PyExc_ValueError, "word too long");
        return -1;
    }
    if ((self->used + 1) * 2 > self->mask + 1 && grow_table(self) < 0) return -1;
    uint32_t offset = SHORT;
    if (length > 8) {
        size_t needed = self->arena_used + sizeof(uint32_t) + length - 8;
        if (needed >= SHORT) {
            PyErr_SetString(PyExc_MemoryError, "word set full");
            return -1;
        }
        if (needed > self->arena_capacity) {
            size_t capacity = self->arena_capacity * 2 > needed ? self->arena_capacity * 2 : needed;
            char *arena = PyMem_Realloc(self->arena, capacity);
            if (arena == NULL) {
                PyErr_NoMemory();
                return -1;
            }
            self->arena = arena;
            self->arena_capacity = capacity;
        }
        offset = (uint32_t)self->arena_used;
        uint32_t stored_length = (uint32_t)length;
        memcpy(self->arena + offset, &stored_length, sizeof stored_length);
        memcpy(self->arena + offset + sizeof stored_length, word + 8, length - 8);
        self->arena_used = needed;
    }
    uint64_t head = head_of(word, length);
    uint32_t hash = hash_of(word, length, head);
    size_t i = hash & self->mask;
    while (self->slots[i].head != 0) i = (i + 1) & self->mask;
    self->slots[i] = (Slot){head, hash, offset};
    self->used++;
    return 0;
}

static const char *utf8_of(PyObject *word, Py_ssize_t *length) {
    if (!PyUnicode_Check(word)) {
        PyErr_Format(PyExc_TypeError, "a WordSet holds str, not %.100s", Py_TYPE(word)->tp_name);
        return NULL;
    }
    return PyUnicode_AsUTF8AndSize(word, length);
}

/* 1 if ``word`` is in the set, 0 if not, -1 with an exception set. */
static int contains_object(WordSet *self, PyObject *word) {
    Py_ssize_t length;
    const char *utf8 = utf8_of(word, &length);
    if (utf8 == NULL) {
        if (!PyErr_ExceptionMatches(PyExc_UnicodeEncodeError)) return -1;
        PyErr_Clear(); /* a lone surrogate: never added, since it has no UTF-8 */
        return 0;
    }
    return length > 0 && contains(self, utf8, (size_t)length);
}

/* -- reading text --------------------------------------------------------------------------- */

typedef struct {
    char *word;
    size_t length;
    size_t capacity;
    Py_ssize_t start; /* where the word began in the text */
    char inline_buffer[128];
} Word;

static int append(Word *word, const char *letters, size_t count) {
    if (word->length + count > word->capacity) { /* a long word: rare, a heap buffer */
        size_t capacity = word->capacity * 2 + count;
        char *larger = PyMem_Malloc(capacity);
        if (larger == NULL) {
            PyErr_NoMemory();
            return -1;
        }
        memcpy(larger, word->word, word->length);
        if (word->word != word->inline_buffer) PyMem_Free(word->word);
        word->word = larger;
        word->capacity = capacity;
    }
    memcpy(word->word + word->length, letters, count);
    word->length += count;
    return 0;
}

/* Add ``position`` to the positions of ``word`` in ``selected``; 0, or -1 on error. */
static int add_position(PyObject *selected, PyObject *word, Py_ssize_t position) {
    PyObject *positions = PyDict_GetItemWithError(selected, word); /* borrowed */
    if (positions == NULL) {
        if (PyErr_Occurred()) return -1;
        positions = PyList_New(0);
        if (positions == NULL) return -1;
        int stored = PyDict_SetItem(selected, word, positions);
        Py_DECREF(positions); /* the dict holds it */
        if (stored < 0) return -1;
    }
    PyObject *number = PyLong_FromSsize_t(position);
    if (number == NULL) return -1;
    int appended = PyList_Append(positions, number);
    Py_DECREF(number);
    return appended;
}

/* End the word read so far, the ``*position``th of the text, at ``end``. Without a set, append
 * its start and end to the list ``selected``; else if its presence is ``wanted``, add its position
 * to the dict ``selected``. 0, or -1 on error. */
static int end_word(WordSet *self, Word *word, Py_ssize_t end, Py_ssize_t *position, int wanted,
                    PyObject *selected) {
    if (word->length == 0) return 0;
    size_t length = word->length;
    word->length = 0;
    Py_ssize_t at = (*position)++;
    if (self == NULL) {
        Py_ssize_t bounds[2] = {word->start, end};
        for (int i = 0; i < 2; i++) {
            PyObject *bound = PyLong_FromSsize_t(bounds[i]);
            if (bound == NULL) return -1;
            int appended = PyList_Append(selected, bound);
            Py_DECREF(bound);
            if (appended < 0) return -1;
        }
        return 0;
    }
    if (contains(self, word->word, length) != wanted) return 0;
    PyObject *found = PyUnicode_DecodeASCII(word->word, (Py_ssize_t)length, NULL);
    if (found == NULL) return -1;
    int added = add_position(selected, found, at);
    Py_DECREF(found);
    return added;
}

/* Read the words of a text of one kind (1, 2 or 4 bytes a character) into ``selected`` (see
 * ``end_word``); 1 if it folds to ASCII, 0 if not (other scripts), -1 on error. Inlined once per
 * kind, so ``PyUnicode_READ`` is cheap. */
static Py_ALWAYS_INLINE inline int read_words(WordSet *self, int kind, const void *data, Py_ssize_t size, int wanted,
                             PyObject *selected, Word *word) {
    Py_ssize_t position = 0;
    for (Py_ssize_t i = 0; i < size;) {
        Py_UCS4 c = PyUnicode_READ(kind, data, i);
        int apostrophe;
        if (c < 128) {
            if (word_byte[c]) {
                if (word->length == 0) word->start = i;
                if (word->length < word->capacity) word->word[word->length++] = (char)word_byte[c];
                else if (append(word, (const char *)&word_byte[c], 1) < 0) return -1;
                i++;
                continue;
            }
            apostrophe = c == '\'' || c == '`';
        } else {
            Fold fold;
            if (fold_of(c, &fold) < 0) return -1;
            if (fold.kind == FOLD_OTHER) return 0;
            if (fold.kind == FOLD_LETTERS) {
                if (word->length == 0) word->start = i;
                if (append(word, fold.letters, fold.length) < 0) return -1;
                i++;
                continue;
            }
            apostrophe = fold.kind == FOLD_APOSTROPHE;
        }
        if (end_word(self, word, i, &position, wanted, selected) < 0) return -1;
        i++;
        if (apostrophe && i < size) { /* "'s" not followed by a letter: a possessive, dropped */
            Py_UCS4 next = PyUnicode_READ(kind, data, i);
            if (next == 's' || next == 'S') {
                int continues = i + 1 < size ? continues_word(PyUnicode_READ(kind, data, i + 1)) : 0;
                if (continues < 0) return -1;
                if (!continues) i++;
            }
        }
    }
    return end_word(self, word, size, &position, wanted, selected) < 0 ? -1 : 1;
}

/* Read a plain text into ``selected`` (see ``end_word``): the result, or None if the text does
 * not fold to ASCII. Takes the reference to ``selected``. */
static PyObject *read_text(WordSet *self, PyObject *text, int wanted, PyObject *selected) {
    if (selected == NULL) return NULL;
    if (!PyUnicode_Check(text)) {
        Py_DECREF(selected);
        PyErr_Format(PyExc_TypeError, "expected a str, not %.100s", Py_TYPE(text)->tp_name);
        return NULL;
    }
    Word word = {NULL, 0, sizeof word.inline_buffer, 0, {0}};
    word.word = word.inline_buffer;
    const void *data = PyUnicode_DATA(text);
    Py_ssize_t size = PyUnicode_GET_LENGTH(text);
    int read;
    switch (PyUnicode_KIND(text)) {
    case PyUnicode_1BYTE_KIND:
        read = read_words(self, PyUnicode_1BYTE_KIND, data, size, wanted, selected, &word);
        break;
    case PyUnicode_2BYTE_KIND:
        read = read_words(self, PyUnicode_2BYTE_KIND, data, size, wanted, selected, &word);
        break;
    default:
        read = read_words(self, PyUnicode_4BYTE_KIND, data, size, wanted, selected, &word);
    }
    if (word.word != word.inline_buffer) PyMem_Free(word.word);
    if (read == 1) return selected;
    Py_DECREF(selected);
    if (read == 0) Py_RETURN_NONE;
    return NULL;
}

/* The words of an iterable of words whose presence in the set is ``wanted``, with their positions. */
static PyObject *select_in_words(WordSet *self, PyObject *words, int wanted) {
    PyObject *iterator = PyObject_GetIter(words);
    if (iterator == NULL) return NULL;
    PyObject *selected = PyDict_New();
    if (selected == NULL) {
        Py_DECREF(iterator);
        return NULL;
    }
    PyObject *word;
    for (Py_ssize_t position = 0; (word = PyIter_Next(iterator)) != NULL; position++) {
        int present = contains_object(self, word);
        if (present < 0 || (present == wanted && add_position(selected, word, position) < 0)) {
            Py_DECREF(word);
            Py_DECREF(iterator);
            Py_DECREF(selected);
            return NULL;
        }
        Py_DECREF(word);
    }
    Py_DECREF(iterator);
    if (PyErr_Occurred()) {
        Py_DECREF(selected);
        return NULL;
    }
    return selected;
}

/* -- the type ------------------------------------------------------------------------------- */

static PyObject *WordSet_new(PyTypeObject *type, PyObject *args, PyObject *kwargs) {
    (void)args, (void)kwargs; /* read by WordSet_init */
    WordSet *self = (WordSet *)type->tp_alloc(type, 0);
    if (self == NULL) return NULL;
    self->mask = 1023;
    self->slots = PyMem_Calloc(self->mask + 1, sizeof(Slot));
    self->arena_capacity = 4096;
    self->arena = PyMem_Malloc(self->arena_capacity);
    if (self->slots == NULL || self->arena == NULL) {
        Py_DECREF(self);
        return PyErr_NoMemory();
    }
    return (PyObject *)self;
}

static PyObject *WordSet_add(WordSet *self, PyObject *word) {
    Py_ssize_t length;
    const char *utf8 = utf8_of(word, &length);
    if (utf8 == NULL || add_bytes(self, utf8, (size_t)length) < 0) return NULL;
    Py_RETURN_NONE;
}

static int WordSet_init(WordSet *self, PyObject *args, PyObject *kwargs) {
    PyObject *words = NULL;
    static char *keywords[] = {"words", NULL};
    if (!PyArg_ParseTupleAndKeywords(args, kwargs, "|O:WordSet", keywords, &words)) return -1;
    if (words == NULL) return 0;
    PyObject *iterator = PyObject_GetIter(words);
    if (iterator == NULL) return -1;
    PyObject *word;
    while ((word = PyIter_Next(iterator)) != NULL) {
        PyObject *added = WordSet_add(self, word);
        Py_DECREF(word);
        if (added == NULL) {
            Py_DECREF(iterator);
            return -1;
        }
        Py_DECREF(added);
    }
    Py_DECREF(iterator);
    return PyErr_Occurred() ? -1 : 0;
}

static void WordSet_dealloc(WordSet *self) {
    PyMem_Free(self->slots);
    PyMem_Free(self->arena);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static Py_ssize_t WordSet_len(WordSet *self) {
    return (Py_ssize_t)self->used;
}

static int WordSet_contains(WordSet *self, PyObject *word) {
    return PyUnicode_Check(word) ? contains_object(self, word) : 0;
}

static PyObject *WordSet_outside(WordSet *self, PyObject *text) {
    return read_text(self, text, 0, PyDict_New());
}

static PyObject *WordSet_inside(WordSet *self, PyObject *text) {
    return read_text(self, text, 1, PyDict_New());
}

static PyObject *WordSet_outside_words(WordSet *self, PyObject *words) {
    return select_in_words(self, words, 0);
}

static PyObject *WordSet_inside_words(WordSet *self, PyObject *words) {
    return select_in_words(self, words, 1);
}

static PyMethodDef WordSet_methods[] = {
    {"add", (PyCFunction)WordSet_add, METH_O, "Add a word."},
    {"outside", (PyCFunction)WordSet_outside, METH_O,
     "The words of a plain text not in the set, with their positions; None if it does not fold to ASCII."},
    {"inside", (PyCFunction)WordSet_inside, METH_O,
     "The words of a plain text in the set, with their positions; None if it does not fold to ASCII."},
    {"outside_words", (PyCFunction)WordSet_outside_words, METH_O,
     "The words of a list of words not in the set, with their positions."},
    {"inside_words", (PyCFunction)WordSet_inside_words, METH_O,
     "The words of a list of words in the set, with their positions."},
    {NULL, NULL, 0, NULL},
};

static PySequenceMethods WordSet_as_sequence = {
    .sq_length = (lenfunc)WordSet_len,
    .sq_contains = (objobjproc)WordSet_contains,
};

static PyTypeObject WordSetType = {
    PyVarObject_HEAD_INIT(NULL, 0).tp_name = "watcher._wordset.WordSet",
    .tp_doc = PyDoc_STR("A set of words that tells which words of a plain text it lacks or holds."),
    .tp_basicsize = sizeof(WordSet),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_new = WordSet_new,
    .tp_init = (initproc)WordSet_init,
    .tp_dealloc = (destructor)WordSet_dealloc,
    .tp_methods = WordSet_methods,
    .tp_as_sequence = &WordSet_as_sequence,
};

/* -- the module ----------------------------------------------------------------------------- */

static PyObject *word_bounds(PyObject *module, PyObject *text) {
    (void)module;
    return read_text(NULL, text, 0, PyList_New(0));
}

static PyObject *set_folder(PyObject *module, PyObject *function) {
    (void)module;
    if (!PyCallable_Check(function)) {
        PyErr_SetString(PyExc_TypeError, "the folder must be callable");
        return NULL;
    }
    Py_INCREF(function);
    Py_XSETREF(folder, function);
    memset(bmp_folds, 0, sizeof bmp_folds); /* a new folder may fold differently */
    Py_RETURN_NONE;
}

static PyMethodDef module_methods[] = {
    {"word_bounds", word_bounds, METH_O,
     "Where the words of a plain text stand in it, flat: start, end, start, end...; None if it does "
     "not fold to ASCII."},
    {"set_folder", set_folder, METH_O,
     "Set the function telling what a non-ASCII character folds to: ASCII letters and digits, "
     "' ' (a separator), \"'\" (an apostrophe) or None (a letter of another script)."},
    {NULL, NULL, 0, NULL},
};

static struct PyModuleDef wordset_module = {
    PyModuleDef_HEAD_INIT,
    .m_name = "watcher._wordset",
    .m_doc = PyDoc_STR("A native set of words for the matcher (see watcher.wordset)."),
    .m_size = -1,
    .m_methods = module_methods,
};

PyMODINIT_FUNC PyInit__wordset(void) {
    for (int c = 0; c < 128; c++) {
        if (c >= 'a' && c <= 'z') word_byte[c] = (unsigned char)c;
        else if (c >= 'A' && c <= 'Z') word_byte[c] = (unsigned char)(c - 'A' + 'a');
        else if (c >= '0' && c <= '9') word_byte[c] = (unsigned char)c;
    }
    if (PyType_Ready(&WordSetType) < 0) return NULL;
    PyObject *module = PyModule_Create(&wordset_module);
    if (module == NULL) return NULL;
    Py_INCREF(&WordSetType);
    if (PyModule_AddObject(module, "WordSet", (PyObject *)&WordSetType) < 0) {
        Py_DECREF(&WordSetType);
        Py_DECREF(module);
        return NULL;
    }
    return module;
}
