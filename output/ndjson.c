/* ndjson.c - JSON writer body, driven by the rec_fields[] table. */
#include "ndjson.h"

#include "escape.h"
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
    case RT_INT:
        outbuf_append_i64(b, rec_int(r, f));
        break;
    case RT_BOOL:
        outbuf_append_str(b, rec_int(r, f) ? "true" : "false");
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
    }
    outbuf_append(b, "}\n", 2);
}
