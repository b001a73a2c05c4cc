/*
 * fuzz_selftest_cmd.c - the client-command parsers of mailtls-selftest
 * (tools/selftest/cmd.c): what SMTP, IMAP and POP3 clients send.
 *
 * The input is one buffer of client bytes; every parser runs over it:
 *  - stc_line_len / stc_line_trim: the line ends at the first LF, the
 *    trimmed length drops only CR and LF;
 *  - stc_verb at caps 0, 1, 5 and 16: the verb is terminated inside the
 *    cap, upper-case, free of space/CR/LF, a prefix of the first word;
 *  - stc_b64_decode: output within cap and of the length the input's
 *    significant characters give, and every full 4-character group encodes
 *    back (independent encoder here) to exactly the input;
 *  - stc_plain_user on the raw bytes and on their base64 decoding: the
 *    user is exactly the bytes between the first two NULs, never anything
 *    after the second (the password);
 *  - stc_session_from_user: a session is 1..32 bytes of [A-Za-z0-9_-],
 *    appears in the input right after a case-insensitive "test-", and
 *    stc_session_valid accepts it;
 *  - stc_imap_frame at caps 64 and 2048: a complete command ends with LF
 *    inside the input, its prefix one byte shorter is incomplete, the
 *    command alone frames to the same length, sync_at lies inside the
 *    input and just after a LF;
 *  - stc_imap_astring repeatedly at every start: terminated output of the
 *    returned length within the cap, progress stays inside the input.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "../../tools/selftest/selftest.h"
#include "fuzz_check.h"

static const char b64_alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static void check_lines(const char *s, size_t n)
{
    size_t ll = stc_line_len(s, n);
    FUZZ_CHECK(ll <= n);
    if (ll) {
        FUZZ_CHECK(s[ll - 1] == '\n' && memchr(s, '\n', ll - 1) == NULL);
    } else {
        FUZZ_CHECK(memchr(s, '\n', n) == NULL);
    }
    size_t t = stc_line_trim(s, n);
    FUZZ_CHECK(t <= n);
    for (size_t i = t; i < n; i++)
        FUZZ_CHECK(s[i] == '\r' || s[i] == '\n');
    FUZZ_CHECK(t == 0 || (s[t - 1] != '\r' && s[t - 1] != '\n'));
}

static void check_verb(const char *s, size_t n)
{
    static const size_t caps[] = {0, 1, 5, 16};
    for (size_t k = 0; k < sizeof(caps) / sizeof(caps[0]); k++) {
        char verb[16 + 1];
        memset(verb, 'x', sizeof(verb));
        size_t rest = 0;
        size_t vn = stc_verb(s, n, verb, caps[k], &rest);
        FUZZ_CHECK(rest <= n);
        if (caps[k] == 0)
            continue;
        FUZZ_CHECK(vn < caps[k] && verb[vn] == '\0' && strlen(verb) == vn);
        size_t i = 0;
        while (i < n && s[i] == ' ')
            i++;
        for (size_t j = 0; j < vn; j++) {
            FUZZ_CHECK(verb[j] != ' ' && verb[j] != '\r' && verb[j] != '\n' &&
                       !(verb[j] >= 'a' && verb[j] <= 'z'));
            char in = s[i + j];
            if (in >= 'a' && in <= 'z')
                in = (char)(in - 'a' + 'A');
            FUZZ_CHECK(verb[j] == in);
        }
    }
}

static void check_b64(const char *s, size_t n)
{
    unsigned char out[1024];
    size_t cap = n % 7 == 0 ? 3 : sizeof(out);
    long d = stc_b64_decode(s, n, out, cap);
    if (d < 0)
        return;
    FUZZ_CHECK((size_t)d <= cap);
    size_t sig = n;
    while (sig && s[sig - 1] == '=')
        sig--;
    FUZZ_CHECK((size_t)d == sig * 6 / 8);
    for (size_t g = 0; g + 3 <= (size_t)d; g += 3) {
        uint32_t v = (uint32_t)out[g] << 16 | (uint32_t)out[g + 1] << 8 | out[g + 2];
        for (int k = 0; k < 4; k++)
            FUZZ_CHECK(s[g / 3 * 4 + (size_t)k] == b64_alphabet[(v >> (18 - 6 * k)) & 63]);
    }
    char user[64];
    if (stc_plain_user(out, (size_t)d, user, sizeof(user)) == 0)
        FUZZ_CHECK(strlen(user) < sizeof(user));
}

static void check_plain(const unsigned char *s, size_t n)
{
    char user[32];
    memset(user, 'x', sizeof(user));
    int rc = stc_plain_user(s, n, user, sizeof(user));
    const unsigned char *z1 = memchr(s, 0, n);
    const unsigned char *z2 = z1 ? memchr(z1 + 1, 0, n - (size_t)(z1 + 1 - s)) : NULL;
    if (!z2 || (size_t)(z2 - z1 - 1) >= sizeof(user)) {
        FUZZ_CHECK(rc == -1);
        return;
    }
    FUZZ_CHECK(rc == 0);
    size_t ulen = (size_t)(z2 - z1 - 1);
    FUZZ_CHECK(user[ulen] == '\0' && memcmp(user, z1 + 1, ulen) == 0);
}

static void check_session(const char *s, size_t n)
{
    char out[ST_SESSION_MAX + 1];
    size_t k = stc_session_from_user(s, n, out, sizeof(out));
    if (k == 0)
        return;
    FUZZ_CHECK(k <= ST_SESSION_MAX && out[k] == '\0' && strlen(out) == k);
    FUZZ_CHECK(n > 5 && strncasecmp(s, "test-", 5) == 0 && memcmp(s + 5, out, k) == 0);
    FUZZ_CHECK(stc_session_valid(out));
    char small[4];
    FUZZ_CHECK(stc_session_from_user(s, n, small, sizeof(small)) == (k < sizeof(small) ? k : 0));
}

static void check_frame(const char *s, size_t n, size_t cap)
{
    size_t sync_at = 99;
    long f = stc_imap_frame(s, n, cap, &sync_at);
    FUZZ_CHECK(f >= -1 && f <= (long)n);
    if (f > 0) {
        FUZZ_CHECK(s[f - 1] == '\n');
        size_t again;
        FUZZ_CHECK(stc_imap_frame(s, (size_t)f, cap, &again) == f);
        FUZZ_CHECK(stc_imap_frame(s, (size_t)f - 1, cap, &again) == 0);
    } else if (f == 0 && sync_at) {
        FUZZ_CHECK(sync_at <= n && s[sync_at - 1] == '\n');
    }
}

static void check_astrings(const char *s, size_t n)
{
    for (size_t start = 0; start < n && start < 64; start++) {
        const char *p = s + start, *end = s + n;
        for (int i = 0; i < 8; i++) {
            char out[40];
            const char *before = p;
            long k = stc_imap_astring(&p, end, out, sizeof(out));
            if (k < 0) {
                FUZZ_CHECK(p == before);
                break;
            }
            FUZZ_CHECK((size_t)k < sizeof(out) && out[k] == '\0');
            FUZZ_CHECK(p > before && p <= end);
        }
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *s = (const char *)data;
    check_lines(s, size);
    check_verb(s, size);
    check_b64(s, stc_line_trim(s, size));
    check_plain(data, size);
    check_session(s, size);
    check_frame(s, size, 64);
    check_frame(s, size, 2048);
    check_astrings(s, size);
    return 0;
}
