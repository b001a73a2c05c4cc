/*
 * line.c - one input line to a struct tgt_line.
 *
 * Accepted forms (after trimming blanks and cutting a '#' comment):
 *   192.0.2.7            2001:db8::1            mail.example.com
 *   192.0.2.7:587        [2001:db8::1]:993      mail.example.com:25
 *   127.0.0.1:10025/smtp (a /PROTO needs a port; a non-standard port needs a /PROTO)
 *   10.0.0.0/8           2001:db8::/120         (IPv6 prefixes up to 2^32 addresses: /96)
 *   192.0.2.7,mail.example.com                  (zgrab2 "ip,domain": domain is the SNI name)
 *   192.0.2.7,mail.example.com,tag,587/smtp     (zgrab2 "ip,domain,tag,port")
 *   ,mail.example.com                           (no ip: the domain is resolved)
 * Every rejection says what was wrong with which part of the line.
 */
#include "addr.h"
#include "target.h"

#include <stdio.h>
#include <string.h>

#define CSV_FIELDS_MAX 4

static bool is_blank(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

static void trim(const char **s, size_t *len)
{
    while (*len > 0 && is_blank(**s)) {
        (*s)++;
        (*len)--;
    }
    while (*len > 0 && is_blank((*s)[*len - 1]))
        (*len)--;
}

/* Only digits and dots: the user meant an IPv4 address, not a name. */
static bool looks_ipv4(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++)
        if ((s[i] < '0' || s[i] > '9') && s[i] != '.')
            return false;
    return len > 0;
}

static int shown(size_t len)
{
    return (int)(len > 64 ? 64 : len);
}

/* "ADDR" or "ADDR/LEN" into out (kind ADDR or PREFIX). */
static int parse_ip_or_prefix(const char *s, size_t len, struct tgt_line *out, char *err, size_t errlen)
{
    bool has_slash = memchr(s, '/', len) != NULL;

    if (tgt_cidr_parse(s, len, &out->family, out->addr, &out->prefix_len, err, errlen) < 0)
        return -1;
    if (!has_slash) {
        out->kind = TGT_ADDR;
        return 0;
    }
    /* Expansion walks a permutation of at most 2^32 indices. */
    if (out->family == AF_INET6 && out->prefix_len < 96) {
        snprintf(err, errlen, "IPv6 prefix /%u is too large to scan (at most /96, 2^32 addresses)",
                 out->prefix_len);
        return -1;
    }
    out->kind = TGT_PREFIX;
    return 0;
}

/* "[v6]" or "[v6]:PORT[/PROTO]". */
static int parse_bracketed(const char *s, size_t len, struct tgt_line *out, char *err, size_t errlen)
{
    const char *close = memchr(s, ']', len);
    size_t inner, rest;

    if (!close) {
        snprintf(err, errlen, "'[' without ']' in '%.*s'", shown(len), s);
        return -1;
    }
    inner = (size_t)(close - s) - 1;
    out->family = tgt_addr_parse(s + 1, inner, out->addr);
    if (out->family != AF_INET6) {
        snprintf(err, errlen, "'%.*s' inside brackets is not an IPv6 address", shown(inner), s + 1);
        return -1;
    }
    out->kind = TGT_ADDR;
    out->prefix_len = 128;
    rest = len - inner - 2;
    if (rest == 0)
        return 0;
    if (close[1] != ':' || rest == 1) {
        snprintf(err, errlen, "expected ':PORT' after ']' in '%.*s'", shown(len), s);
        return -1;
    }
    return tgt_port_spec(close + 2, rest - 1, &out->port, &out->has_proto, &out->proto, err, errlen);
}

/* A host (IPv4 or name, no prefix) followed by an optional ":PORT[/PROTO]". */
static int parse_host(const char *s, size_t len, struct tgt_line *out, char *err, size_t errlen)
{
    const char *colon = memchr(s, ':', len);
    size_t hlen = colon ? (size_t)(colon - s) : len;

    if (memchr(s, '/', hlen)) {
        if (colon) {
            snprintf(err, errlen, "a prefix takes no ':PORT' in '%.*s' (use --ports)", shown(len), s);
            return -1;
        }
        const char *slash = memchr(s, '/', len);
        size_t after = len - (size_t)(slash - s) - 1;
        if (!looks_ipv4(s, (size_t)(slash - s)) || after == 0 || slash[1] < '0' || slash[1] > '9') {
            snprintf(err, errlen, "'%.*s' is not a prefix (a /PROTO needs a port: HOST:PORT/PROTO)",
                     shown(len), s);
            return -1;
        }
        return parse_ip_or_prefix(s, len, out, err, errlen);
    }
    if (hlen == 0) {
        snprintf(err, errlen, "missing host before ':' in '%.*s'", shown(len), s);
        return -1;
    }
    out->family = tgt_addr_parse(s, hlen, out->addr);
    if (out->family == AF_INET) {
        out->kind = TGT_ADDR;
        out->prefix_len = 32;
    } else if (looks_ipv4(s, hlen)) {
        snprintf(err, errlen, "'%.*s' is not a valid IPv4 address", shown(hlen), s);
        return -1;
    } else {
        char why[TGT_ERR_MAX];
        out->family = 0;
        if (tgt_name_check(s, hlen, out->name, why, sizeof why) < 0) {
            snprintf(err, errlen, "'%.*s': %s", shown(hlen), s, why);
            return -1;
        }
        out->kind = TGT_NAME;
    }
    if (!colon)
        return 0;
    return tgt_port_spec(colon + 1, len - hlen - 1, &out->port, &out->has_proto, &out->proto, err, errlen);
}

/* A standard mail port written in decimal: the numbers a user appends to
 * an address to mean "this port". */
static bool is_mail_port_text(const char *s, size_t len)
{
    static const char *const ports[] = {"25", "110", "143", "465", "587", "993", "995"};

    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        if (strlen(ports[i]) == len && memcmp(ports[i], s, len) == 0)
            return true;
    return false;
}

/* An unbracketed IPv6 text that reads just as well as ADDRESS:PORT, so
 * the user's intent is unknown (README-targets.md, "Ambiguous IPv6"):
 *  - ADDR/PROTO with a non-numeric suffix (never a prefix): the user
 *    meant [ADDR]:PORT/PROTO;
 *  - the text holds "::", its last group is a standard mail port in
 *    decimal, and the text before the last ':' is itself an IPv6 address
 *    (`::1:993` is ::0.1.9.147 or [::1]:993; `2001:db8::25` is not
 *    ambiguous: "2001:db8:" is no address).
 * Returns true with err set (and a hint) when so. */
static bool ambiguous_v6_port(const char *s, size_t len, char *err, size_t errlen)
{
    unsigned char tmp[16];
    const char *slash = memchr(s, '/', len);
    const char *last;
    size_t alen = slash ? (size_t)(slash - s) : len;

    if (slash && (size_t)(slash - s) + 1 < len && (slash[1] < '0' || slash[1] > '9')) {
        last = memrchr(s, ':', alen);
        if (last && tgt_addr_parse(s, (size_t)(last - s), tmp) == AF_INET6)
            snprintf(err, errlen,
                     "'%.*s' is ambiguous: an IPv6 address with a port is written in brackets, "
                     "use [%.*s]:%.*s",
                     shown(len), s, shown((size_t)(last - s)), s, shown(len - (size_t)(last - s) - 1),
                     last + 1);
        else
            snprintf(err, errlen,
                     "'%.*s' is not a prefix (an IPv6 address with a port and protocol is "
                     "written [ADDR]:PORT/PROTO)",
                     shown(len), s);
        return true;
    }
    if (slash || !memmem(s, len, "::", 2))
        return false;
    last = memrchr(s, ':', len);
    if (!is_mail_port_text(last + 1, len - (size_t)(last - s) - 1))
        return false;
    if (tgt_addr_parse(s, (size_t)(last - s), tmp) != AF_INET6)
        return false;
    snprintf(err, errlen, "'%.*s' is ambiguous: use [%.*s]:%.*s for port %.*s, or [%.*s] for the address",
             shown(len), s, shown((size_t)(last - s)), s, shown(len - (size_t)(last - s) - 1), last + 1,
             shown(len - (size_t)(last - s) - 1), last + 1, shown(len), s);
    return true;
}

/* One target without commas. */
static int parse_target(const char *s, size_t len, struct tgt_line *out, char *err, size_t errlen)
{
    size_t colons = 0;

    for (size_t i = 0; i < len; i++) {
        if (is_blank(s[i])) {
            snprintf(err, errlen, "unexpected blank inside '%.*s' (one target per line)", shown(len), s);
            return -1;
        }
        colons += s[i] == ':';
    }
    if (s[0] == '[')
        return parse_bracketed(s, len, out, err, errlen);
    if (colons >= 2) {
        /* Two or more colons can only be IPv6; a port would need brackets. */
        char why[TGT_ERR_MAX];
        if (ambiguous_v6_port(s, len, err, errlen))
            return -1;
        if (parse_ip_or_prefix(s, len, out, why, sizeof why) < 0) {
            if (strstr(why, "not an IPv4 or IPv6 address"))
                snprintf(err, errlen, "%s (an IPv6 address with a port is written [ADDR]:PORT)", why);
            else
                snprintf(err, errlen, "%s", why);
            return -1;
        }
        return 0;
    }
    return parse_host(s, len, out, err, errlen);
}

/* zgrab2-style "ip,domain,tag,port"; every field but one of ip/domain may be empty. */
static int parse_csv(const char *s, size_t len, struct tgt_line *out, char *err, size_t errlen)
{
    static const char *const field_names[CSV_FIELDS_MAX] = {"ip", "domain", "tag", "port"};
    const char *f[CSV_FIELDS_MAX];
    size_t flen[CSV_FIELDS_MAX];
    size_t nf = 0;
    const char *p = s, *end = s + len;
    char why[TGT_ERR_MAX];

    for (;;) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        if (nf == CSV_FIELDS_MAX) {
            snprintf(err, errlen, "more than %d comma-separated fields (ip,domain,tag,port)", CSV_FIELDS_MAX);
            return -1;
        }
        f[nf] = p;
        flen[nf] = comma ? (size_t)(comma - p) : (size_t)(end - p);
        trim(&f[nf], &flen[nf]);
        for (size_t i = 0; i < flen[nf]; i++) {
            if (is_blank(f[nf][i]) || f[nf][i] == '"') {
                snprintf(err, errlen, "field %zu (%s) '%.*s' contains a blank or a quote", nf + 1,
                         field_names[nf], shown(flen[nf]), f[nf]);
                return -1;
            }
        }
        nf++;
        if (!comma)
            break;
        p = comma + 1;
    }
    if (flen[0] > 0) {
        /* the first field is any address form: IP, IP:PORT[/PROTO], [IPv6]:PORT, prefix */
        if (parse_target(f[0], flen[0], out, why, sizeof why) < 0) {
            snprintf(err, errlen, "field 1 (ip): %s", why);
            return -1;
        }
        if (out->kind == TGT_NAME) {
            snprintf(err, errlen, "field 1 (ip): '%.*s' is not an address (a name goes in field 2)",
                     shown(flen[0]), f[0]);
            return -1;
        }
        out->name[0] = '\0';
    }
    if (nf > 1 && flen[1] > 0) {
        if (tgt_name_check(f[1], flen[1], out->name, why, sizeof why) < 0) {
            snprintf(err, errlen, "field 2 (domain) '%.*s': %s", shown(flen[1]), f[1], why);
            return -1;
        }
    }
    if (flen[0] == 0) {
        if (out->name[0] == '\0') {
            snprintf(err, errlen, "neither an ip (field 1) nor a domain (field 2)");
            return -1;
        }
        out->kind = TGT_NAME;
    }
    if (nf > 2 && flen[2] > 0) {
        if (flen[2] >= sizeof out->tag) {
            snprintf(err, errlen, "field 3 (tag) is %zu bytes long (at most %zu)", flen[2],
                     sizeof out->tag - 1);
            return -1;
        }
        for (size_t i = 0; i < flen[2]; i++) {
            unsigned char c = (unsigned char)f[2][i];
            if (c < 0x21 || c > 0x7e) {
                snprintf(err, errlen, "field 3 (tag): byte 0x%02X is not printable ASCII", c);
                return -1;
            }
        }
        memcpy(out->tag, f[2], flen[2]);
        out->tag[flen[2]] = '\0';
    }
    if (nf > 3 && flen[3] > 0) {
        if (out->port) {
            snprintf(err, errlen, "field 4 (port): the port is already given in field 1");
            return -1;
        }
        if (tgt_port_spec(f[3], flen[3], &out->port, &out->has_proto, &out->proto, why, sizeof why) < 0) {
            snprintf(err, errlen, "field 4 (port): %s", why);
            return -1;
        }
    }
    return 0;
}

/* NUL and other control bytes would be cut or skipped silently further
 * on (inet_pton stops at a NUL: `127.0.0.3<NUL>.5` was 127.0.0.3), so the
 * whole line is refused, comment included. TAB is a blank; the reader has
 * already dropped the LF and the CR of a CRLF ending, so any CR left is a
 * stray one (one CR at the very end is the line end). Bytes >= 0x80 are not control bytes here (comments may
 * hold UTF-8; a name with them is refused by the name check). */
static int check_control(const char *line, size_t len, char *err, size_t errlen)
{
    static const char *const names[32] = {"NUL", "SOH", "STX", "ETX", "EOT", "ENQ", "ACK", "BEL",
                                          "BS",  "TAB", "LF",  "VT",  "FF",  "CR",  "SO",  "SI",
                                          "DLE", "DC1", "DC2", "DC3", "DC4", "NAK", "SYN", "ETB",
                                          "CAN", "EM",  "SUB", "ESC", "FS",  "GS",  "RS",  "US"};

    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)line[i];
        if (c == '\t' || (c >= 0x20 && c != 0x7f))
            continue;
        snprintf(err, errlen, "control byte 0x%02X (%s) at column %zu: the line is refused", c,
                 c == 0x7f ? "DEL" : names[c], i + 1);
        return -1;
    }
    return 0;
}

int tgt_parse_line(const char *line, size_t len, struct tgt_line *out, char *err, size_t errlen)
{
    const char *hash;
    int rc;

    memset(out, 0, sizeof *out);
    if (errlen > 0)
        err[0] = '\0';
    /* The CR of a CRLF ending (argv targets and callers without the
     * reader have not dropped it) */
    if (len > 0 && line[len - 1] == '\r')
        len--;
    if (check_control(line, len, err, errlen) < 0)
        return -1;
    hash = memchr(line, '#', len);
    if (hash)
        len = (size_t)(hash - line);
    trim(&line, &len);
    if (len == 0)
        return 0;
    if (memchr(line, ',', len))
        rc = parse_csv(line, len, out, err, errlen);
    else
        rc = parse_target(line, len, out, err, errlen);
    if (rc < 0) {
        memset(out, 0, sizeof *out);
        return -1;
    }
    if (!out->has_proto)
        memset(&out->proto, 0, sizeof out->proto);
    return 1;
}
