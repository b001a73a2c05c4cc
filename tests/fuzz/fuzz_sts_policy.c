/*
 * fuzz_sts_policy.c - scanner/mtasts.c: the MTA-STS policy parser and the
 * mx pattern match.
 *
 * The input is a policy file. Checked: on success version, mode and
 * max_age were found (mode set, max_age 0-31557600), mx patterns are
 * terminated, lower case, at most STS_PATTERN_MAX bytes, free of spaces,
 * and at least one unless mode is none; on failure err is a terminated
 * message. Each pattern matches itself without "*." (a host name) when it
 * has no wildcard, and "x." plus its rest when it has one, but never the
 * rest alone nor "a.b." plus the rest (a wildcard is one label).
 */
#include <ctype.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "../../scanner/mtasts.h"
#include "fuzz_check.h"

static struct sts_policy pol;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char err[128];
    err[0] = 0;
    int rc = sts_parse((const char *)data, size, &pol, err, sizeof err);
    if (rc < 0) {
        FUZZ_CHECK(strlen(err) > 0 && strlen(err) < sizeof err);
        return 0;
    }
    FUZZ_CHECK(rc == 0);
    FUZZ_CHECK(sts_mode_name(pol.mode) != NULL);
    FUZZ_CHECK(pol.max_age >= 0 && pol.max_age <= STS_MAX_AGE_MAX);
    FUZZ_CHECK(pol.n_mx <= STS_MX_MAX && (pol.n_mx > 0 || pol.mode == STS_NONE));
    for (int i = 0; i < pol.n_mx; i++) {
        const char *m = pol.mx[i];
        size_t n = strnlen(m, sizeof pol.mx[i]);
        FUZZ_CHECK(n > 0 && n <= STS_PATTERN_MAX);
        for (size_t k = 0; k < n; k++)
            FUZZ_CHECK(!isupper((unsigned char)m[k]) && !isspace((unsigned char)m[k]));
        char host[STS_PATTERN_MAX + 8];
        if (m[0] == '*' && m[1] == '.') {
            snprintf(host, sizeof host, "x.%s", m + 2);
            FUZZ_CHECK(sts_mx_match(m, host));
            FUZZ_CHECK(!sts_mx_match(m, m + 2));
            snprintf(host, sizeof host, "a.b.%s", m + 2);
            FUZZ_CHECK(!sts_mx_match(m, host));
        } else {
            FUZZ_CHECK(sts_mx_match(m, m));
            snprintf(host, sizeof host, "x.%s", m);
            FUZZ_CHECK(!sts_mx_match(m, host));
        }
    }
    return 0;
}
