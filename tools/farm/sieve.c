/*
 * ManageSieve as the farm answers it (RFC 5804).
 *
 * Greeting (and again after STARTTLS, RFC 5804 2.2): the capabilities
 *   "IMPLEMENTATION" "mailtls-farm" / "SIEVE" "fileinto vacation" /
 *   "SASL" "PLAIN LOGIN" (or "SASL" "" when the profile refuses plaintext
 *   login before TLS) / ["STARTTLS"] / "VERSION" "1.0" / OK "<host> ready."
 *   STARTTLS listed when the profile offers it and TLS is not active.
 * STARTTLS:      OK "Begin TLS negotiation now."  (then the capabilities)
 * CAPABILITY:    the capabilities again
 * AUTHENTICATE:  NO "Authentication failed." (counted as a credential) or,
 *                refused before TLS, NO "Plaintext authentication disallowed."
 * LOGOUT:        OK "Logout completed." (completed); anything else NO.
 */
#include "farm.h"

#include <string.h>
#include <strings.h>

static void capabilities(struct sess *s)
{
    char host[64];
    sess_host_name(s, host, sizeof(host));
    sess_send(s, "\"IMPLEMENTATION\" \"mailtls-farm\"\r\n\"SIEVE\" \"fileinto vacation\"\r\n");
    sess_send(s, sess_may_auth(s) ? "\"SASL\" \"PLAIN LOGIN\"\r\n" : "\"SASL\" \"\"\r\n");
    if (sess_may_starttls(s))
        sess_send(s, "\"STARTTLS\"\r\n");
    sess_sendf(s, "\"VERSION\" \"1.0\"\r\nOK \"%s ready.\"\r\n", host);
}

void sieve_greet(struct sess *s)
{
    capabilities(s);
}

void sieve_busy(struct sess *s)
{
    sess_send(s, "BYE \"Too busy, try again later.\"\r\n");
}

void sieve_line(struct sess *s, char *line, size_t len)
{
    (void)len;
    char *args = line;
    char *verb = line_word(&args);
    if (strcasecmp(verb, "STARTTLS") == 0) {
        if (!sess_may_starttls(s)) {
            sess_send(s, "NO \"TLS support isn't enabled.\"\r\n");
        } else {
            sess_send(s, "OK \"Begin TLS negotiation now.\"\r\n");
            sess_starttls_after_flush(s);
        }
    } else if (strcasecmp(verb, "CAPABILITY") == 0) {
        capabilities(s);
    } else if (strcasecmp(verb, "AUTHENTICATE") == 0) {
        if (!sess_may_auth(s)) {
            sess_send(s, "NO \"Plaintext authentication disallowed.\"\r\n");
        } else {
            sess_count_credentials(s);
            sess_send(s, "NO \"Authentication failed.\"\r\n");
        }
    } else if (strcasecmp(verb, "LOGOUT") == 0) {
        sess_send(s, "OK \"Logout completed.\"\r\n");
        sess_close_after_flush(s, END_COMPLETED);
    } else {
        sess_send(s, "NO \"Unknown command.\"\r\n");
    }
}
