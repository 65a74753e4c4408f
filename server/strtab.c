/*
 * strtab.c - string interning. See strtab.h.
 */
#include "strtab.h"
#include "rasfleet/result.h"

#include <stdlib.h>
#include <string.h>

void strtab_init(struct strtab *t)
{
    memset(t, 0, sizeof(*t));
    strmap_init(&t->index);
}

void strtab_free(struct strtab *t)
{
    for (size_t i = 1; i < t->len; i++)
        free(t->strings[i]);
    free(t->strings);
    strmap_free(&t->index);
    memset(t, 0, sizeof(*t));
}

int strtab_intern(struct strtab *t, const char *s, uint32_t *id)
{
    int64_t v;
    if (!s) {
        *id = 0;
        return RF_OK;
    }
    if (strmap_get(&t->index, s, &v)) {
        *id = (uint32_t)v;
        return RF_OK;
    }
    if (t->len == 0)
        t->len = 1; /* id 0 is reserved */
    if (t->len >= UINT32_MAX)
        return RF_ENOMEM;
    if (t->len >= t->cap) {
        size_t ncap = t->cap ? t->cap * 2 : 256;
        char **p = realloc(t->strings, ncap * sizeof(*p));
        if (!p)
            return RF_ENOMEM;
        if (t->cap == 0)
            p[0] = NULL;
        t->strings = p;
        t->cap = ncap;
    }
    size_t n = strlen(s);
    char *copy = malloc(n + 1);
    if (!copy)
        return RF_ENOMEM;
    memcpy(copy, s, n + 1);
    if (strmap_put(&t->index, copy, (int64_t)t->len) != RF_OK) {
        free(copy);
        return RF_ENOMEM;
    }
    t->strings[t->len] = copy;
    *id = (uint32_t)t->len++;
    t->bytes += n + 1;
    return RF_OK;
}

uint32_t strtab_find(const struct strtab *t, const char *s)
{
    int64_t v;
    return s && strmap_get(&t->index, s, &v) ? (uint32_t)v : 0;
}

const char *strtab_get(const struct strtab *t, uint32_t id)
{
    return id && id < t->len ? t->strings[id] : NULL;
}
