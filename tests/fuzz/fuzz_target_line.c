/*
 * fuzz_target_line.c - target-line and port-list parsing (targets/target.h).
 *
 * The input (first 8 KiB) is one target line for tgt_parse_line and, up to
 * its first NUL, a --ports list for tgt_parse_ports; it also goes straight
 * to tgt_port_spec and tgt_name_check. Checked: return values, that every
 * accepted result is self-consistent (families and prefix lengths, masked
 * host bits, NUL-terminated names and tags, port/protocol agreement), that
 * parsing is deterministic, that an accepted address or name prints back
 * to a line that parses the same, that err is always a terminated
 * string within errlen, that no accepted line holds a control byte (TAB
 * and a final CR aside), and that no accepted line is an ambiguous
 * IPv6-with-port text (checked independently of line.c).
 */
#include <arpa/inet.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../targets/target.h"
#include "fuzz_check.h"

#define MAX_LINE_BYTES 8192
#define PORTS_MAX 8

static void check_err(const char *err, size_t errlen, bool must_say_something)
{
    if (errlen == 0)
        return;
    const char *nul = memchr(err, '\0', errlen);
    FUZZ_CHECK(nul != NULL);
    if (must_say_something && errlen > 1)
        FUZZ_CHECK(err[0] != '\0');
}

static bool is_name_char(char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.';
}

static void check_name(const char *name)
{
    size_t n = strnlen(name, TGT_NAME_MAX + 1);
    FUZZ_CHECK(n > 0 && n <= 253);
    for (size_t i = 0; i < n; i++)
        FUZZ_CHECK(is_name_char(name[i]));
    FUZZ_CHECK(name[0] != '.' && name[n - 1] != '.');
}

static void check_proto(const struct tgt_port *p)
{
    FUZZ_CHECK((unsigned)p->proto < MT_PROTO_COUNT);
    FUZZ_CHECK(p->mode == TLS_MODE_STARTTLS || p->mode == TLS_MODE_IMPLICIT);
}

static void check_line(const struct tgt_line *l)
{
    const struct tgt_line zero = {0};
    size_t alen = l->family == AF_INET ? 4 : 16;
    unsigned max_prefix = l->family == AF_INET ? 32 : 128;

    FUZZ_CHECK(memchr(l->name, '\0', sizeof l->name) != NULL);
    FUZZ_CHECK(strnlen(l->tag, sizeof l->tag) < sizeof l->tag);
    for (const char *t = l->tag; *t; t++)
        FUZZ_CHECK(*t > 0x20 && *t < 0x7f);
    if (l->name[0])
        check_name(l->name);
    switch (l->kind) {
    case TGT_ADDR:
    case TGT_PREFIX:
        FUZZ_CHECK(l->family == AF_INET || l->family == AF_INET6);
        if (l->kind == TGT_ADDR)
            FUZZ_CHECK(l->prefix_len == max_prefix);
        FUZZ_CHECK(l->prefix_len <= max_prefix);
        if (l->family == AF_INET6 && l->kind == TGT_PREFIX)
            FUZZ_CHECK(l->prefix_len >= 96);
        for (unsigned bit = l->prefix_len; bit < alen * 8; bit++)
            FUZZ_CHECK(!(l->addr[bit / 8] & (0x80u >> (bit % 8))));
        for (size_t i = alen; i < 16; i++)
            FUZZ_CHECK(l->addr[i] == 0);
        break;
    case TGT_NAME:
        FUZZ_CHECK(l->family == 0);
        check_name(l->name);
        break;
    default: FUZZ_CHECK(!"unknown kind");
    }
    if (l->has_proto) {
        FUZZ_CHECK(l->port != 0 && l->proto.port == l->port);
        check_proto(&l->proto);
    } else {
        FUZZ_CHECK(memcmp(&l->proto, &zero.proto, sizeof l->proto) == 0);
        if (l->port) {
            struct tgt_port p;
            FUZZ_CHECK(tgt_port_infer(l->port, &p));
        }
    }
}

/* Prints an accepted address, prefix or name back as a line and parses it. */
static void check_reparse(const struct tgt_line *l)
{
    char text[TGT_NAME_MAX + 64];
    struct tgt_line again;
    char err[TGT_ERR_MAX];

    if (l->kind == TGT_NAME) {
        snprintf(text, sizeof text, "%s", l->name);
        FUZZ_CHECK(tgt_parse_line(text, strlen(text), &again, err, sizeof err) == 1);
        FUZZ_CHECK(again.kind == TGT_NAME && strcmp(again.name, l->name) == 0);
        return;
    }
    char addr[INET6_ADDRSTRLEN];
    FUZZ_CHECK(inet_ntop(l->family, l->addr, addr, sizeof addr) != NULL);
    if (l->kind == TGT_PREFIX)
        snprintf(text, sizeof text, "%s/%u", addr, l->prefix_len);
    else if (l->family == AF_INET6) /* unbracketed, ::1:993 is ambiguous */
        snprintf(text, sizeof text, "[%s]", addr);
    else
        snprintf(text, sizeof text, "%s", addr);
    FUZZ_CHECK(tgt_parse_line(text, strlen(text), &again, err, sizeof err) == 1);
    FUZZ_CHECK(again.kind == l->kind && again.family == l->family);
    FUZZ_CHECK(again.prefix_len == l->prefix_len);
    FUZZ_CHECK(memcmp(again.addr, l->addr, sizeof l->addr) == 0);
}

/* An accepted line holds no control byte but TAB (and a CR as its very
 * last byte, the CRLF ending). */
static void check_no_control(const char *s, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\r' && i + 1 == len)
            continue;
        FUZZ_CHECK(c == '\t' || (c >= 0x20 && c != 0x7f));
    }
}

/* Independent of line.c: an accepted line is never an unbracketed IPv6
 * text with "::" whose last group is a standard mail port and whose text
 * before the last ':' is an IPv6 address (README-targets.md). */
static void check_not_ambiguous(const char *s, size_t len)
{
    static const char *const ports[] = {"25", "110", "143", "465", "587", "993", "995"};
    char buf[128];
    const char *hash = memchr(s, '#', len);
    size_t n = hash ? (size_t)(hash - s) : len;

    while (n > 0 && strchr(" \t\r", s[n - 1]))
        n--;
    while (n > 0 && strchr(" \t", *s)) {
        s++;
        n--;
    }
    if (n == 0 || n >= sizeof buf || memchr(s, ',', n) || memchr(s, '[', n) || memchr(s, '/', n) ||
        !memmem(s, n, "::", 2))
        return;
    memcpy(buf, s, n);
    buf[n] = '\0';
    char *last = strrchr(buf, ':');
    bool mail = false;
    for (size_t i = 0; i < sizeof ports / sizeof ports[0]; i++)
        mail |= strcmp(last + 1, ports[i]) == 0;
    *last = '\0';
    unsigned char a[16];
    FUZZ_CHECK(!(mail && inet_pton(AF_INET6, buf, a) == 1));
}

static void fuzz_line(const char *s, size_t len, size_t errlen)
{
    static struct tgt_line out, again;
    char err[TGT_ERR_MAX];
    char err2[TGT_ERR_MAX];

    memset(err, 'x', sizeof err);
    int rc = tgt_parse_line(s, len, &out, err, errlen);
    FUZZ_CHECK(rc >= -1 && rc <= 1);
    check_err(err, errlen, rc < 0);
    for (size_t i = errlen; i < sizeof err; i++)
        FUZZ_CHECK(err[i] == 'x');
    if (rc <= 0) {
        const struct tgt_line zero = {0};
        FUZZ_CHECK(memcmp(&out, &zero, sizeof out) == 0);
    }
    if (rc == 0) {
        /* Blank or comment: nothing but blanks before any '#'. */
        for (size_t i = 0; i < len && s[i] != '#'; i++)
            FUZZ_CHECK(strchr(" \t\r\n\v\f", s[i]) != NULL && s[i] != '\0');
    }
    if (rc == 1) {
        check_line(&out);
        check_reparse(&out);
        check_no_control(s, len);
        check_not_ambiguous(s, len);
    }
    int rc2 = tgt_parse_line(s, len, &again, err2, sizeof err2);
    FUZZ_CHECK(rc2 == rc);
    FUZZ_CHECK(memcmp(&again, &out, sizeof out) == 0);
    if (errlen == sizeof err && rc < 0)
        FUZZ_CHECK(strcmp(err, err2) == 0);
}

static void fuzz_ports(const char *list, size_t max)
{
    struct tgt_port out[PORTS_MAX + 1];
    char err[TGT_ERR_MAX];
    size_t n = 12345;

    memset(out, 0xa5, sizeof out);
    int rc = tgt_parse_ports(list, out, max, &n, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    /* Nothing is written past max entries. */
    const unsigned char *guard = (const unsigned char *)&out[max];
    for (size_t i = 0; i < sizeof out[0]; i++)
        FUZZ_CHECK(guard[i] == 0xa5);
    if (rc < 0) {
        FUZZ_CHECK(n == 0);
        check_err(err, sizeof err, true);
        return;
    }
    FUZZ_CHECK(n >= 1 && n <= max);
    for (size_t i = 0; i < n; i++) {
        FUZZ_CHECK(out[i].port != 0);
        check_proto(&out[i]);
        for (size_t j = 0; j < i; j++)
            FUZZ_CHECK(out[i].port != out[j].port);
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > MAX_LINE_BYTES)
        size = MAX_LINE_BYTES;
    const char *s = (const char *)data;

    /* Short error buffers must be cut, not overrun. */
    static const size_t errlens[] = {TGT_ERR_MAX, 1, 0, 17};
    size_t errlen = errlens[size ? data[size - 1] % 4 : 0];
    fuzz_line(s, size, errlen);

    char *list = malloc(size + 1);
    FUZZ_CHECK(list != NULL);
    memcpy(list, data, size);
    list[size] = '\0';
    fuzz_ports(list, PORTS_MAX);
    fuzz_ports(list, 1 + (size ? data[0] % PORTS_MAX : 0));
    free(list);

    uint16_t port = 0;
    bool has_proto = false;
    struct tgt_port proto;
    char err[TGT_ERR_MAX];
    if (tgt_port_spec(s, size, &port, &has_proto, &proto, err, sizeof err) == 0) {
        FUZZ_CHECK(port != 0);
        check_proto(&proto);
        FUZZ_CHECK(proto.port == port);
    } else {
        check_err(err, sizeof err, true);
    }

    char name[TGT_NAME_MAX + 1];
    if (tgt_name_check(s, size, name, err, sizeof err) == 0)
        check_name(name);
    else
        check_err(err, sizeof err, true);
    return 0;
}
