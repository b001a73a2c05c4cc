/* mt_proto.c - the low-layer half of the protocol table (see mt_proto.h). */
#include "mt_proto.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#define MT_UNPAREN(...) __VA_ARGS__

static const struct mt_proto_info rows[MT_PROTO_COUNT] = {
#define MT_PROTO_ROW(ID, id, implicit, cmd, sports, iports)                                                  \
    [PROTO_##ID] = {#id, implicit, cmd, {MT_UNPAREN sports}, {MT_UNPAREN iports}},
    MT_PROTO_LIST(MT_PROTO_ROW)
#undef MT_PROTO_ROW
};

const struct mt_proto_info *mt_proto_info(enum mt_proto p)
{
    return (unsigned)p < MT_PROTO_COUNT ? &rows[p] : NULL;
}

const char *mt_proto_name(enum mt_proto p)
{
    return (unsigned)p < MT_PROTO_COUNT ? rows[p].name : "?";
}

const char *mt_tls_mode_name(enum mt_tls_mode m)
{
    return m == TLS_MODE_IMPLICIT ? "implicit" : "starttls";
}

static bool name_is(const char *name, const char *s, size_t len)
{
    return name != NULL && strlen(name) == len && strncasecmp(name, s, len) == 0;
}

bool mt_proto_lookup(const char *s, size_t len, enum mt_proto *p, enum mt_tls_mode *m)
{
    for (int i = 0; i < MT_PROTO_COUNT; i++) {
        enum mt_tls_mode mode;
        if (name_is(rows[i].name, s, len))
            mode = TLS_MODE_STARTTLS;
        else if (name_is(rows[i].implicit_name, s, len))
            mode = TLS_MODE_IMPLICIT;
        else
            continue;
        *p = (enum mt_proto)i;
        *m = mode;
        return true;
    }
    return false;
}

static bool port_in(const uint16_t *list, uint16_t port)
{
    for (int i = 0; i < MT_PROTO_PORTS_MAX && list[i] != 0; i++)
        if (list[i] == port)
            return true;
    return false;
}

bool mt_proto_by_port(uint16_t port, enum mt_proto *p, enum mt_tls_mode *m)
{
    if (port == 0)
        return false;
    for (int i = 0; i < MT_PROTO_COUNT; i++) {
        bool starttls = port_in(rows[i].starttls_ports, port);
        if (!starttls && !port_in(rows[i].implicit_ports, port))
            continue;
        *p = (enum mt_proto)i;
        *m = starttls ? TLS_MODE_STARTTLS : TLS_MODE_IMPLICIT;
        return true;
    }
    return false;
}

void mt_proto_names(char *buf, size_t cap)
{
    size_t used = 0;
    if (cap == 0)
        return;
    buf[0] = '\0';
    for (int i = 0; i < MT_PROTO_COUNT; i++) {
        const char *names[2] = {rows[i].name, rows[i].implicit_name};
        for (int k = 0; k < 2 && names[k]; k++) {
            int n = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", names[k]);
            if (n < 0 || (size_t)n >= cap - used)
                return;
            used += (size_t)n;
        }
    }
}
