/*
 * test_reply_sieve.c - ManageSieve lines (scanner/reply_sieve.h): status
 * words, quoted strings and their two escapes, capability lines into the
 * record's caps and auth lists.
 */
#include <stdio.h>
#include <string.h>

#include "../../scanner/reply_sieve.h"
#include "check.h"

static struct record rec;

static bool cap(const char *line, bool after_tls, struct caps_seen *seen)
{
    return reply_sieve_cap(&rec, after_tls, line, strlen(line), seen);
}

/* The list field f holds exactly the given items, in order. */
static bool list_is(enum rec_field f, const char *const *want, size_t n)
{
    uint16_t cur = 0;
    const unsigned char *it;
    size_t len, i = 0;
    while (rec_list_next(&rec, f, &cur, &it, &len)) {
        if (i >= n || len != strlen(want[i]) || memcmp(it, want[i], len) != 0)
            return false;
        i++;
    }
    return i == n;
}

static long quoted(const char *s, char *out, size_t cap, size_t *used)
{
    return reply_sieve_quoted(s, strlen(s), out, cap, used);
}

int main(void)
{
    rec_reset(&rec);
    CHECK(reply_sieve_status("OK", 2) == SIEVE_LINE_OK);
    CHECK(reply_sieve_status("ok \"Dovecot ready.\"", 19) == SIEVE_LINE_OK);
    CHECK(reply_sieve_status("NO (TRYLATER) \"x\"", 17) == SIEVE_LINE_NO);
    CHECK(reply_sieve_status("BYE(x)", 6) == SIEVE_LINE_BYE);
    CHECK(reply_sieve_status("OKAY", 4) == SIEVE_LINE_OTHER);
    CHECK(reply_sieve_status("\"SASL\" \"\"", 9) == SIEVE_LINE_OTHER);
    CHECK(reply_sieve_status("", 0) == SIEVE_LINE_OTHER);

    char out[16];
    size_t used = 0;
    CHECK(quoted("  \"SASL\" \"PLAIN\"", out, sizeof out, &used) == 4 && strcmp(out, "SASL") == 0 &&
          used == 8);
    CHECK(quoted("\"a\\\"b\\\\c\"", out, sizeof out, &used) == 5 && strcmp(out, "a\"b\\c") == 0);
    CHECK(quoted("\"PL\\AIN\"", out, sizeof out, &used) == -1); /* \A is no quoted-special */
    CHECK(quoted("\"unterminated", out, sizeof out, &used) == -1);
    CHECK(quoted("SASL", out, sizeof out, &used) == -1);
    CHECK(quoted("\"0123456789abcdefXYZ\"", out, sizeof out, &used) == 15 && strlen(out) == 15);

    struct caps_seen seen = {0};
    CHECK(cap("\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"", false, &seen));
    CHECK(cap("\"SASL\" \"PLAIN LOGIN\"", false, &seen) && seen.password_mech);
    CHECK(!seen.starttls && cap("\"STARTTLS\"", false, &seen) && seen.starttls);
    CHECK(!cap("OK \"ready\"", false, &seen));
    reply_caps_complete(&rec, false);
    const char *caps[] = {"\"IMPLEMENTATION\" \"Dovecot (Debian) Pigeonhole\"", "\"SASL\" \"PLAIN LOGIN\"",
                          "\"STARTTLS\""};
    const char *mechs[] = {"PLAIN", "LOGIN"};
    CHECK(list_is(F_CAPS_BEFORE_TLS, caps, 3));
    CHECK(list_is(F_AUTH_BEFORE_TLS, mechs, 2));

    struct caps_seen strict = {0};
    CHECK(cap("\"SASL\" \"\"", true, &strict) && !strict.password_mech);
    CHECK(cap("\"sasl\" \"scram-sha-1\"", true, &strict) && !strict.password_mech);
    reply_caps_complete(&rec, true);
    const char *after[] = {"SCRAM-SHA-1"};
    CHECK(list_is(F_AUTH_AFTER_TLS, after, 1));
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
