/* recview.c - list iteration with the synthesized `truncated` field. */
#include "recview.h"

#include <string.h>

bool recview_has(const struct record *r, enum rec_field f)
{
    if (f == F_TRUNCATED && r->truncated != 0)
        return true;
    return rec_has(r, f);
}

int recview_list_next(const struct record *r, enum rec_field f, struct recview_cursor *c,
                      const unsigned char **item, size_t *len)
{
    if (!c->stored_done) {
        if (rec_list_next(r, f, &c->node, item, len))
            return 1;
        c->stored_done = true;
    }
    if (f != F_TRUNCATED)
        return 0;
    while (c->bit < F_COUNT) {
        int b = c->bit++;
        if (!((r->truncated >> b) & 1u))
            continue;
        const char *name = rec_fields[b].name;
        if (rec_list_contains(r, F_TRUNCATED, name, false))
            continue;
        *item = (const unsigned char *)name;
        *len = strlen(name);
        return 1;
    }
    return 0;
}
