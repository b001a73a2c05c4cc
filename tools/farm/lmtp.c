/*
 * LMTP as the farm answers it (RFC 2033): SMTP's dialogue (smtp.c) with
 * LHLO in place of EHLO, and neither EHLO nor HELO.
 *
 * Greeting:  220 <host> LMTP mailtls-farm
 * LHLO:      the EHLO reply of smtp.c (STARTTLS and AUTH by profile)
 * EHLO/HELO: 500 5.5.1 Unknown command (LMTP has neither)
 * anything else: as smtp.c answers it.
 */
#include "farm.h"

#include <strings.h>

void lmtp_greet(struct sess *s)
{
    char host[64];
    sess_host_name(s, host, sizeof(host));
    sess_sendf(s, "220 %s LMTP mailtls-farm\r\n", host);
}

void lmtp_busy(struct sess *s)
{
    smtp_busy(s);
}

static bool verb_is(const char *line, size_t len, const char *verb)
{
    return len >= 4 && strncasecmp(line, verb, 4) == 0 && (len == 4 || line[4] == ' ');
}

void lmtp_line(struct sess *s, char *line, size_t len)
{
    if (s->auth == AUTH_NONE && (verb_is(line, len, "EHLO") || verb_is(line, len, "HELO"))) {
        sess_send(s, "500 5.5.1 Unknown command\r\n");
        return;
    }
    if (s->auth == AUTH_NONE && verb_is(line, len, "LHLO"))
        line[0] = 'E'; /* smtp.c's EHLO reply is LHLO's (RFC 2033 4.1) */
    smtp_line(s, line, len);
}
