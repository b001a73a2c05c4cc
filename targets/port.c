/*
 * port.c - the --ports list: standard ports, "PORT/PROTO" entries.
 *
 * A port alone must be a standard port of a protocol table row
 * (output/mt_proto.h) so that the protocol is never guessed; anything else
 * needs an explicit /PROTO.
 */
#include "target.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

/* The protocols, their names and standard ports: output/mt_proto.h. */

bool tgt_port_infer(uint16_t port, struct tgt_port *out)
{
    if (!mt_proto_by_port(port, &out->proto, &out->mode))
        return false;
    out->port = port;
    return true;
}

bool tgt_proto_parse(const char *s, size_t len, struct tgt_port *out)
{
    return mt_proto_lookup(s, len, &out->proto, &out->mode);
}

static int port_number(const char *s, size_t len, uint16_t *out)
{
    unsigned long v = 0;

    if (len == 0)
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (unsigned long)(s[i] - '0');
        if (v > 65535)
            return -1;
    }
    if (v == 0)
        return -1;
    *out = (uint16_t)v;
    return 0;
}

int tgt_port_spec(const char *s, size_t len, uint16_t *port, bool *has_proto, struct tgt_port *proto,
                  char *err, size_t errlen)
{
    const char *slash = memchr(s, '/', len);
    size_t nlen = slash ? (size_t)(slash - s) : len;
    int shown = (int)(len > 40 ? 40 : len);

    if (port_number(s, nlen, port) < 0) {
        snprintf(err, errlen, "bad port '%.*s' (want 1-65535)", (int)(nlen > 40 ? 40 : nlen), s);
        return -1;
    }
    if (slash) {
        size_t plen = len - nlen - 1;
        if (!tgt_proto_parse(slash + 1, plen, proto)) {
            char names[128];
            mt_proto_names(names, sizeof names);
            snprintf(err, errlen, "unknown protocol '%.*s' in '%.*s' (want %s)", (int)(plen > 20 ? 20 : plen),
                     slash + 1, shown, s, names);
            return -1;
        }
        proto->port = *port;
        *has_proto = true;
        return 0;
    }
    *has_proto = false;
    if (!tgt_port_infer(*port, proto)) {
        snprintf(err, errlen, "port %u is not a standard mail port: say which protocol, e.g. '%u/smtp'",
                 (unsigned)*port, (unsigned)*port);
        return -1;
    }
    return 0;
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t';
}

int tgt_parse_ports(const char *list, struct tgt_port *out, size_t max, size_t *n, char *err, size_t errlen)
{
    const char *p = list;
    size_t count = 0;
    size_t entry_no = 0;

    *n = 0;
    if (list == NULL || list[strspn(list, " \t")] == '\0') {
        snprintf(err, errlen, "empty port list");
        return -1;
    }
    for (;;) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        const char *s = p;
        struct tgt_port port;
        bool has_proto;
        char why[TGT_ERR_MAX];

        entry_no++;
        while (len > 0 && is_space(*s)) {
            s++;
            len--;
        }
        while (len > 0 && is_space(s[len - 1]))
            len--;
        if (len == 0) {
            snprintf(err, errlen, "port list entry %zu is empty", entry_no);
            return -1;
        }
        if (tgt_port_spec(s, len, &port.port, &has_proto, &port, why, sizeof why) < 0) {
            snprintf(err, errlen, "port entry '%.*s': %s", (int)(len > 40 ? 40 : len), s, why);
            return -1;
        }
        for (size_t i = 0; i < count; i++) {
            /* One probe per (address, port): listing a port twice, even
             * with two protocols, is almost certainly a typo. */
            if (out[i].port == port.port) {
                snprintf(err, errlen, "port entry '%.*s': port %u listed twice", (int)(len > 40 ? 40 : len),
                         s, (unsigned)port.port);
                return -1;
            }
        }
        if (count == max) {
            snprintf(err, errlen, "port entry '%.*s': more than %zu ports", (int)(len > 40 ? 40 : len), s,
                     max);
            return -1;
        }
        out[count++] = port;
        if (!end)
            break;
        p = end + 1;
    }
    *n = count;
    return 0;
}
