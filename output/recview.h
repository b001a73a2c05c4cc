/*
 * recview.h - a record as the writers see it.
 *
 * Identical to the record accessors except for the `truncated` field: the
 * scanner marks cut values with bits in record.truncated (it cannot always
 * store names, because truncation often means the arena is full), so here
 * that field is the list of items stored in it, followed by the names of
 * the fields whose truncated bit is set and which were not stored already.
 * The field is null only when both are empty.
 */
#ifndef MAILTLS_RECVIEW_H
#define MAILTLS_RECVIEW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record.h"

struct recview_cursor {
    uint16_t node;    /* rec_list_next cursor over stored items */
    bool stored_done; /* stored items exhausted, now walking the bits */
    int bit;          /* next field whose truncated bit to test */
};

bool recview_has(const struct record *r, enum rec_field f);
/* Iterates a list field: zero *c first; returns 0 when done. */
int recview_list_next(const struct record *r, enum rec_field f, struct recview_cursor *c,
                      const unsigned char **item, size_t *len);

#endif
