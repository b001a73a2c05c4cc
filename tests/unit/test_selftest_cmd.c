/*
 * test_selftest_cmd.c - mailtls-selftest's client-command parsers
 * (tools/selftest/cmd.c, compiled into this test: the tools are not a
 * library). Known answers for verbs, base64, AUTH PLAIN, session ids and
 * IMAP astrings; IMAP framing fed every split point of commands with
 * literals, as the server sees them arrive.
 */
#include "../../tools/selftest/cmd.c"

#include "check.h"

static void test_verb(void)
{
    char verb[8];
    size_t rest;
    CHECK(stc_verb("  ehlo client\r\n", 15, verb, sizeof(verb), &rest) == 4 && strcmp(verb, "EHLO") == 0 &&
          rest == 7);
    CHECK(stc_verb("AUTHENTICATE PLAIN", 18, verb, sizeof(verb), &rest) == 7 &&
          strcmp(verb, "AUTHENT") == 0 && rest == 13);
    CHECK(stc_verb("\r\n", 2, verb, sizeof(verb), &rest) == 0 && verb[0] == '\0');
    CHECK(stc_verb("A\0B", 3, verb, sizeof(verb), &rest) == 1 && strcmp(verb, "A") == 0);
}

static void test_b64_plain(void)
{
    unsigned char out[64];
    char user[64];
    /* "\0test-abc@selftest.example\0secret" */
    const char *b = "AHRlc3QtYWJjQHNlbGZ0ZXN0LmV4YW1wbGUAc2VjcmV0";
    long n = stc_b64_decode(b, strlen(b), out, sizeof(out));
    CHECK(n == 33);
    CHECK(stc_plain_user(out, (size_t)n, user, sizeof(user)) == 0 &&
          strcmp(user, "test-abc@selftest.example") == 0);
    CHECK(stc_plain_user(out, (size_t)n, user, 10) == -1);
    CHECK(stc_plain_user((const unsigned char *)"a\0b", 3, user, sizeof(user)) == -1); /* no second NUL */
    CHECK(stc_b64_decode("QQ", 2, out, sizeof(out)) == 1 && out[0] == 'A');
    CHECK(stc_b64_decode("QQ==", 4, out, sizeof(out)) == 1);
    CHECK(stc_b64_decode("QQ=", 3, out, sizeof(out)) == -1);
    CHECK(stc_b64_decode("Q", 1, out, sizeof(out)) == -1);
    CHECK(stc_b64_decode("QU*D", 4, out, sizeof(out)) == -1);
    CHECK(stc_b64_decode("QUJD", 4, out, 2) == -1);
    CHECK(stc_b64_decode("", 0, out, sizeof(out)) == 0);
}

static void test_session(void)
{
    char s[ST_SESSION_MAX + 1];
    CHECK(stc_session_from_user("test-abc@selftest.example", 25, s, sizeof(s)) == 3 && strcmp(s, "abc") == 0);
    CHECK(stc_session_from_user("TEST-A_b-9@SelfTest.Example", 27, s, sizeof(s)) == 5 &&
          strcmp(s, "A_b-9") == 0);
    CHECK(stc_session_from_user("test-x", 6, s, sizeof(s)) == 1 && strcmp(s, "x") == 0);
    CHECK(stc_session_from_user("test-a@example.org", 18, s, sizeof(s)) == 0 && s[0] == '\0');
    CHECK(stc_session_from_user("test-@selftest.example", 22, s, sizeof(s)) == 0);
    CHECK(stc_session_from_user("test-a.b@selftest.example", 25, s, sizeof(s)) == 0);
    CHECK(stc_session_from_user("user@selftest.example", 21, s, sizeof(s)) == 0);
    const char *long33 = "test-abcdefghijabcdefghijabcdefghijabc";
    CHECK(stc_session_from_user(long33, strlen(long33), s, sizeof(s)) == 0);
    CHECK(stc_session_valid("a-Z_9") && !stc_session_valid("") && !stc_session_valid("a b"));
}

static void test_astring(void)
{
    char out[32];
    const char *in = "user \"p\\\"w\" {3}\r\nabc atom";
    const char *p = in, *end = in + strlen(in);
    CHECK(stc_imap_astring(&p, end, out, sizeof(out)) == 4 && strcmp(out, "user") == 0);
    CHECK(stc_imap_astring(&p, end, out, sizeof(out)) == 3 && strcmp(out, "p\"w") == 0);
    CHECK(stc_imap_astring(&p, end, out, sizeof(out)) == 3 && strcmp(out, "abc") == 0);
    CHECK(stc_imap_astring(&p, end, out, sizeof(out)) == 4 && strcmp(out, "atom") == 0 && p == end);
    CHECK(stc_imap_astring(&p, end, out, sizeof(out)) == -1);
    const char *bad[] = {"\"unterminated", "{5}\r\nab", "{x}\r\n", "\"a\\b\"", "(x)", "{3}ab"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        p = bad[i];
        CHECK(stc_imap_astring(&p, bad[i] + strlen(bad[i]), out, sizeof(out)) == -1 && p == bad[i]);
    }
    p = "abcdefgh";
    CHECK(stc_imap_astring(&p, p + 8, out, 8) == -1); /* 8 bytes need cap 9 */
}

/* A command with two synchronising literals, fed in every split. */
static void test_frame_splits(void)
{
    const char cmd[] = "a1 LOGIN {4}\r\nuser {6}\r\nsecret\r\nnext\r\n";
    const size_t whole = sizeof(cmd) - 1 - 6; /* without "next\r\n" */
    for (size_t cut = 0; cut <= sizeof(cmd) - 1; cut++) {
        size_t sync = 0;
        long n = stc_imap_frame(cmd, cut, 2048, &sync);
        if (cut < whole) {
            CHECK(n == 0);
            /* "+" due while a literal's bytes are missing: after "{4}\r\n"
             * (offset 14) until the 4 bytes are in, after "{6}\r\n" (24)
             * until the 6 are; 0 while a line is still incomplete. */
            size_t want = (cut >= 14 && cut < 18) ? 14 : (cut >= 24 && cut < 30) ? 24 : 0;
            CHECK(sync == want);
        } else {
            CHECK(n == (long)whole);
        }
    }
    size_t sync;
    CHECK(stc_imap_frame("a {3+}\r\nab", 10, 2048, &sync) == 0 && sync == 0); /* non-synchronising */
    CHECK(stc_imap_frame("a {4000}\r\n", 10, 2048, &sync) == -1);
    CHECK(stc_imap_frame("a {x}\r\n", 7, 2048, &sync) == 7);
    CHECK(stc_imap_frame("no line end", 11, 2048, &sync) == 0 && sync == 0);
}

int main(void)
{
    test_verb();
    test_b64_plain();
    test_session();
    test_astring();
    test_frame_splits();
    printf("%d passed, %d failed\n", passed, failed);
    return failed != 0;
}
