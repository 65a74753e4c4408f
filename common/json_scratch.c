/*
 * json_scratch.c - per-thread bump region for cJSON trees. See
 * json_scratch.h for the contract.
 *
 * The region is a list of chunks; the newest is bumped. At the end of a
 * scope every chunk but the newest is freed and the newest is kept (if not
 * larger than JSON_SCRATCH_KEEP) and rewound, and when a scope needed more
 * than one chunk the next first chunk is sized to the whole scope's use, so
 * a thread that decodes batches of one size settles on one chunk and no
 * allocation at all. free() inside a scope is a no-op for the region's own
 * memory and a real free() for memory cJSON allocated outside any scope.
 */
#include "json_scratch.h"
#include "rasfleet/result.h"

#include <cjson/cJSON.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>

#define CHUNK_MIN (64u * 1024u)

/* Under AddressSanitizer the unused part of a chunk is poisoned, so a tree
 * used after json_scratch_end() is reported like a use after free. */
#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define SCRATCH_ASAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__)
#define SCRATCH_ASAN 1
#endif
#ifdef SCRATCH_ASAN
#include <sanitizer/asan_interface.h>
#define POISON(p, n) ASAN_POISON_MEMORY_REGION((p), (n))
#define UNPOISON(p, n) ASAN_UNPOISON_MEMORY_REGION((p), (n))
#else
#define POISON(p, n) ((void)(p), (void)(n))
#define UNPOISON(p, n) ((void)(p), (void)(n))
#endif

struct chunk {
    struct chunk *next;
    size_t cap;
    size_t used;
    _Alignas(max_align_t) unsigned char data[];
};

struct region {
    struct chunk *head; /* the chunk being bumped; older ones follow */
    size_t scope_bytes; /* bytes handed out in the current scope */
    size_t next_first;  /* capacity for the first chunk of the next scope */
    bool open;
};

static _Thread_local struct region region;
static bool installed;
static pthread_once_t key_once = PTHREAD_ONCE_INIT;
static pthread_key_t exit_key;
static bool key_ok;

static void make_key(void);

static struct chunk *chunk_new(size_t cap)
{
    if (cap > SIZE_MAX - sizeof(struct chunk))
        return NULL;
    struct chunk *c = malloc(sizeof(*c) + cap);
    if (c) {
        c->next = NULL;
        c->cap = cap;
        c->used = 0;
        POISON(c->data, cap);
    }
    return c;
}

static void *region_alloc(struct region *r, size_t n)
{
    size_t need = (n + 15u) & ~(size_t)15u;
    if (need < n)
        return NULL;
    struct chunk *c = r->head;
    if (!c || c->cap - c->used < need) {
        size_t cap = c ? c->cap * 2 : (r->next_first > CHUNK_MIN ? r->next_first : CHUNK_MIN);
        if (cap < need)
            cap = need;
        struct chunk *nc = chunk_new(cap);
        if (!nc)
            return NULL;
        if (!c) { /* the thread's first chunk: free the region when it exits */
            pthread_once(&key_once, make_key);
            if (key_ok)
                pthread_setspecific(exit_key, r);
        }
        nc->next = c;
        r->head = nc;
        c = nc;
    }
    void *p = c->data + c->used;
    c->used += need;
    r->scope_bytes += need;
    UNPOISON(p, n);
    return p;
}

static bool region_owns(const struct region *r, const void *p)
{
    const unsigned char *q = p;
    for (const struct chunk *c = r->head; c; c = c->next)
        if (q >= c->data && q < c->data + c->cap)
            return true;
    return false;
}

static void *hook_malloc(size_t n)
{
    return region.open ? region_alloc(&region, n) : malloc(n);
}

static void hook_free(void *p)
{
    if (region.open && region_owns(&region, p))
        return;
    free(p);
}

void json_scratch_install(void)
{
    cJSON_Hooks hooks = {.malloc_fn = hook_malloc, .free_fn = hook_free};
    cJSON_InitHooks(&hooks);
    installed = true;
}

int json_scratch_begin(void)
{
    if (region.open)
        return RF_EINVAL;
    region.open = installed;
    region.scope_bytes = 0;
    return RF_OK;
}

static void free_chunks(struct chunk *c)
{
    while (c) {
        UNPOISON(c->data, c->cap);
        struct chunk *next = c->next;
        free(c);
        c = next;
    }
}

void json_scratch_end(void)
{
    struct region *r = &region;
    if (!r->open)
        return;
    r->open = false;
    if (r->head && (r->head->next || r->head->cap > JSON_SCRATCH_KEEP)) {
        /* several chunks, or one too big to keep: the next scope starts
         * with one chunk as big as this one needed (up to the cap) */
        free_chunks(r->head);
        r->head = NULL;
        r->next_first = r->scope_bytes < JSON_SCRATCH_KEEP ? r->scope_bytes : JSON_SCRATCH_KEEP;
    } else if (r->head) {
        r->head->used = 0;
        POISON(r->head->data, r->head->cap);
    }
}

size_t json_scratch_held_bytes(void)
{
    size_t n = 0;
    for (const struct chunk *c = region.head; c; c = c->next)
        n += c->cap;
    return n;
}

/* pthread key destructor: frees the region of a thread that exits */
static void release_at_exit(void *arg)
{
    struct region *r = arg;
    free_chunks(r->head);
    r->head = NULL;
}

static void make_key(void)
{
    key_ok = pthread_key_create(&exit_key, release_at_exit) == 0;
}
