/* csv.c - CSV writer body, driven by the rec_fields[] table. */
#include "csv.h"

#include "escape.h"
#include "recview.h"

static void append_escaped(struct outbuf *b, const unsigned char *s, size_t len, bool is_item)
{
    if (b->overflow)
        return;
    size_t room = outbuf_room(b);
    size_t n = out_csv_escape((char *)b->data + b->len, room, s, len, is_item);
    if (n > room) {
        b->overflow = true;
        return;
    }
    b->len += n;
}

static void append_value(struct outbuf *b, const struct record *r, enum rec_field f)
{
    if (!recview_has(r, f))
        return;
    const unsigned char *s;
    size_t len;
    switch (rec_fields[f].type) {
    case RT_TEXT:
    case RT_JSON: /* its JSON text in one cell */
        s = rec_text(r, f, &len);
        outbuf_append_byte(b, '"');
        append_escaped(b, s, len, false);
        outbuf_append_byte(b, '"');
        break;
    case RT_LIST: {
        struct recview_cursor c = {0};
        outbuf_append_byte(b, '"');
        for (int n = 0; recview_list_next(r, f, &c, &s, &len); n++) {
            if (n)
                outbuf_append_byte(b, '|');
            append_escaped(b, s, len, true);
        }
        outbuf_append_byte(b, '"');
        break;
    }
    case RT_INT: outbuf_append_i64(b, rec_int(r, f)); break;
    case RT_BOOL: outbuf_append_str(b, rec_int(r, f) ? "true" : "false"); break;
    }
}

void csv_append_header(struct outbuf *b)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (f)
            outbuf_append_byte(b, ',');
        outbuf_append_str(b, rec_fields[f].name);
    }
    outbuf_append(b, "\r\n", 2);
}

void csv_append_record(struct outbuf *b, const struct record *r)
{
    for (int f = 0; f < F_COUNT; f++) {
        if (f)
            outbuf_append_byte(b, ',');
        append_value(b, r, (enum rec_field)f);
    }
    outbuf_append(b, "\r\n", 2);
}
