/*
 * downgrade.c - STARTTLS injection, STARTTLS required and masked STARTTLS
 * for the protocol files (see downgrade.h; README "Downgrade checks").
 */
#include "downgrade.h"

#include <string.h>

#include "conn.h"
#include "downgrade_parse.h"

void downgrade_send_starttls(struct conn *c, const char *cmd)
{
    char buf[64];
    size_t n = strlen(cmd);
    if (conn_records_facts(c) || c->injection != INJECTION_NONE) {
        conn_send(c, cmd, n);
        return;
    }
    const char *inj = downgrade_injected_cmd(c->job.port.proto);
    size_t m = strlen(inj);
    if (n + m > sizeof buf) {
        conn_send(c, cmd, n);
        return;
    }
    memcpy(buf, cmd, n);
    memcpy(buf + n, inj, m);
    c->injection = INJECTION_SENT;
    /* one conn_send is one send(2) of both commands (TCP_NODELAY): one
     * segment; were any byte left unsent, conn_start_tls voids the test */
    conn_send(c, buf, n + m);
}

bool downgrade_after_tls(struct conn *c)
{
    if (conn_records_facts(c))
        return false;
    if (c->injection == INJECTION_SENT)
        conn_await_injected(c);
    else
        conn_injection_over(c); /* answered early, or no verdict possible */
    return true;
}

void downgrade_injected_line(struct conn *c, const char *line, size_t len)
{
    if (c->injection != INJECTION_WAITING || !downgrade_parse_answer(c->job.port.proto, line, len))
        return;
    rec_set_bool(&c->rec, F_STARTTLS_INJECTION, true);
    c->injection = INJECTION_DONE;
    conn_injection_over(c);
}

bool downgrade_answered_early(struct conn *c, bool is_status)
{
    if (c->injection != INJECTION_SENT || !is_status)
        return false;
    rec_set_bool(&c->rec, F_STARTTLS_INJECTION, true);
    c->injection = INJECTION_DONE;
    return true;
}

void downgrade_masked_caps(struct record *r)
{
    uint16_t cursor = 0;
    const unsigned char *item;
    size_t len, tlen;
    while (rec_list_next(r, F_CAPS_BEFORE_TLS, &cursor, &item, &len)) {
        const char *tok = downgrade_parse_masked_item((const char *)item, len, &tlen);
        if (tok) {
            rec_set_text(r, F_STARTTLS_MASKED, tok, tlen);
            return;
        }
    }
}

void downgrade_required_from_login(struct conn *c, bool password_offered)
{
    if (!conn_downgrade_checks(c) || !conn_records_facts(c))
        return;
    struct record *r = &c->rec;
    size_t len = 0;
    const unsigned char *v = rec_has(r, F_AUTH_PROBE) ? rec_text(r, F_AUTH_PROBE, &len) : NULL;
    if (v && len == 12 && memcmp(v, "tls-required", 12) == 0)
        rec_set_bool(r, F_STARTTLS_REQUIRED, true);
    else if (v && len == 19 && memcmp(v, "cleartext-evaluated", 19) == 0)
        rec_set_bool(r, F_STARTTLS_REQUIRED, false);
    else
        rec_set_bool(r, F_STARTTLS_REQUIRED, !password_offered);
}
