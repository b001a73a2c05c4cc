/*
 * test_proto_table.c - the protocol table (output/mt_proto.h) and its
 * scanner half (scanner/proto.h): every row complete, names and ports
 * consistent, and the readers (port inference, /PROTO names, record names)
 * answering from it.
 */
#include <stdio.h>
#include <string.h>

#include "../../output/mt_proto.h"
#include "../../scanner/proto.h"
#include "../../targets/target.h"
#include "check.h"

/* Every row's ports infer that row, in the right mode. */
static void check_ports(enum mt_proto p, const uint16_t *ports, enum mt_tls_mode mode)
{
    for (int i = 0; i < MT_PROTO_PORTS_MAX && ports[i]; i++) {
        struct tgt_port tp;
        CHECK(tgt_port_infer(ports[i], &tp) && tp.proto == p && tp.mode == mode && tp.port == ports[i]);
    }
}

static void check_row(enum mt_proto p)
{
    const struct mt_proto_info *info = mt_proto_info(p);
    CHECK(info != NULL && info->name != NULL && info->starttls_cmd != NULL);
    if (!info)
        return;
    const struct proto_ops *ops = proto_ops_for(p);
    CHECK(ops != NULL && strcmp(ops->name, info->name) == 0);
    CHECK(strcmp(mt_proto_name(p), info->name) == 0);
    struct tgt_port tp;
    CHECK(tgt_proto_parse(info->name, strlen(info->name), &tp) && tp.proto == p &&
          tp.mode == TLS_MODE_STARTTLS);
    if (info->implicit_name)
        CHECK(tgt_proto_parse(info->implicit_name, strlen(info->implicit_name), &tp) && tp.proto == p &&
              tp.mode == TLS_MODE_IMPLICIT);
    check_ports(p, info->starttls_ports, TLS_MODE_STARTTLS);
    check_ports(p, info->implicit_ports, TLS_MODE_IMPLICIT);
    if (!info->implicit_name)
        CHECK(info->implicit_ports[0] == 0); /* implicit ports need a name */
}

/* No port belongs to two rows: inference would be ambiguous. */
static void check_ports_unique(void)
{
    int seen[65536] = {0};
    for (int p = 0; p < MT_PROTO_COUNT; p++) {
        const struct mt_proto_info *info = mt_proto_info((enum mt_proto)p);
        for (int k = 0; k < MT_PROTO_PORTS_MAX; k++) {
            if (info->starttls_ports[k])
                seen[info->starttls_ports[k]]++;
            if (info->implicit_ports[k])
                seen[info->implicit_ports[k]]++;
        }
    }
    int dup = 0;
    for (int i = 0; i < 65536; i++)
        dup += seen[i] > 1;
    CHECK(dup == 0);
}

int main(void)
{
    CHECK(proto_check() == 0);
    for (int p = 0; p < MT_PROTO_COUNT; p++)
        check_row((enum mt_proto)p);
    check_ports_unique();
    /* outside the table: no row, no fallback */
    CHECK(mt_proto_info(MT_PROTO_COUNT) == NULL);
    CHECK(strcmp(mt_proto_name(MT_PROTO_COUNT), "?") == 0);
    struct tgt_port tp;
    CHECK(!tgt_port_infer(2525, &tp) && !tgt_port_infer(0, &tp));
    CHECK(!tgt_proto_parse("ftp", 3, &tp) && !tgt_proto_parse("smtp", 3, &tp));
    /* the standard ports of the original three, as before the table */
    CHECK(tgt_port_infer(587, &tp) && tp.proto == PROTO_SMTP && tp.mode == TLS_MODE_STARTTLS);
    CHECK(tgt_port_infer(995, &tp) && tp.proto == PROTO_POP3 && tp.mode == TLS_MODE_IMPLICIT);
    /* every port of the --ports default is inferable */
    struct tgt_port ports[16];
    size_t n;
    char err[TGT_ERR_MAX];
    CHECK(tgt_parse_ports(TGT_DEFAULT_PORTS, ports, 16, &n, err, sizeof err) == 0 && n == 7);
    char names[128];
    mt_proto_names(names, sizeof names);
    CHECK(strncmp(names, "smtp, smtps, imap, imaps, pop3, pop3s", 37) == 0);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
