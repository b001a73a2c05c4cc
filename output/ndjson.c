/* ndjson.c - JSON writer body, driven by the rec_fields[] table. */
#include "ndjson.h"

#include "escape.h"
#include "recjson.h"
#include "recview.h"

static void append_string(struct outbuf *b, const unsigned char *s, size_t len)
{
    outbuf_append_byte(b, '"');
    if (b->overflow)
        return;
    size_t room = outbuf_room(b);
    size_t n = out_json_escape((char *)b->data + b->len, room, s, len);
    if (n > room) {
        b->overflow = true;
        return;
    }
    b->len += n;
    outbuf_append_byte(b, '"');
}

static void append_base64(struct outbuf *b, const unsigned char *s, size_t len)
{
    outbuf_append_byte(b, '"');
    if (b->overflow)
        return;
    size_t room = outbuf_room(b);
    size_t n = out_base64((char *)b->data + b->len, room, s, len);
    if (n > room) {
        b->overflow = true;
        return;
    }
    b->len += n;
    outbuf_append_byte(b, '"');
}

static void append_b64_key(struct outbuf *b, enum rec_field f)
{
    outbuf_append(b, ",\"", 2);
    outbuf_append_str(b, rec_fields[f].name);
    outbuf_append(b, "_b64\":", 6);
}

static bool list_is_lossy(const struct record *r, enum rec_field f)
{
    struct recview_cursor c = {0};
    const unsigned char *s;
    size_t len;
    while (recview_list_next(r, f, &c, &s, &len))
        if (out_json_is_lossy(s, len))
            return true;
    return false;
}

/* The exact bytes of a value whose JSON text lost some (see escape.h):
 * `<field>_b64` right after the field, present only then. A list gets an
 * array as long as the list, null for the items that came through intact. */
static void append_b64_sibling(struct outbuf *b, const struct record *r, enum rec_field f)
{
    const unsigned char *s;
    size_t len;
    if (rec_fields[f].type == RT_TEXT) {
        s = rec_text(r, f, &len);
        if (!out_json_is_lossy(s, len))
            return;
        append_b64_key(b, f);
        append_base64(b, s, len);
        return;
    }
    if (!list_is_lossy(r, f))
        return;
    append_b64_key(b, f);
    struct recview_cursor c = {0};
    outbuf_append_byte(b, '[');
    for (int n = 0; recview_list_next(r, f, &c, &s, &len); n++) {
        if (n)
            outbuf_append_byte(b, ',');
        if (out_json_is_lossy(s, len))
            append_base64(b, s, len);
        else
            outbuf_append(b, "null", 4);
    }
    outbuf_append_byte(b, ']');
}

static void append_value(struct outbuf *b, const struct record *r, enum rec_field f)
{
    if (!recview_has(r, f)) {
        outbuf_append(b, "null", 4);
        return;
    }
    const unsigned char *s;
    size_t len;
    switch (rec_fields[f].type) {
    case RT_TEXT:
        s = rec_text(r, f, &len);
        append_string(b, s, len);
        break;
    case RT_LIST: {
        struct recview_cursor c = {0};
        outbuf_append_byte(b, '[');
        for (int n = 0; recview_list_next(r, f, &c, &s, &len); n++) {
            if (n)
                outbuf_append_byte(b, ',');
            append_string(b, s, len);
        }
        outbuf_append_byte(b, ']');
        break;
    }
    case RT_INT: outbuf_append_i64(b, rec_int(r, f)); break;
    case RT_BOOL: outbuf_append_str(b, rec_int(r, f) ? "true" : "false"); break;
    case RT_JSON:
        /* the object as stored, once it is proven to be that shape */
        s = rec_text(r, f, &len);
        if (recjson_ok(s, len))
            outbuf_append(b, (const char *)s, len);
        else
            outbuf_append(b, "null", 4);
        break;
    }
}

void ndjson_append(struct outbuf *b, const struct record *r)
{
    for (int f = 0; f < F_COUNT; f++) {
        outbuf_append_byte(b, f ? ',' : '{');
        outbuf_append_byte(b, '"');
        /* Field names are ASCII identifiers from our own table. */
        outbuf_append_str(b, rec_fields[f].name);
        outbuf_append(b, "\":", 2);
        append_value(b, r, (enum rec_field)f);
        enum rec_type t = rec_fields[f].type;
        if ((t == RT_TEXT || t == RT_LIST) && recview_has(r, (enum rec_field)f))
            append_b64_sibling(b, r, (enum rec_field)f);
    }
    outbuf_append(b, "}\n", 2);
}
