/*
 * mtasts.h - the MTA-STS policy file (RFC 8461 3.2) and its mx patterns.
 * Pure: text in, policy out, no allocation.
 *
 * Lines "key: value" end in LF or CRLF. version (STSv1) and mode
 * (enforce, testing, none) must appear once; max_age once, 0 to 31557600;
 * mx at least once unless mode is none. Unknown keys are ignored, as the
 * RFC asks. An mx pattern is a host name, or "*." and a host name (the
 * wildcard stands for exactly one label).
 */
#ifndef MAILTLS_MTASTS_H
#define MAILTLS_MTASTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define STS_MX_MAX 16
#define STS_PATTERN_MAX 255
#define STS_MAX_AGE_MAX 31557600

enum sts_mode { STS_MODE_NONE_SET, STS_ENFORCE, STS_TESTING, STS_NONE };

struct sts_policy {
    enum sts_mode mode;
    int64_t max_age; /* -1 = absent */
    uint8_t n_mx;
    bool mx_cut; /* more than STS_MX_MAX patterns */
    char mx[STS_MX_MAX][STS_PATTERN_MAX + 1];
};

/* 0, or -1 with a reason in err. */
int sts_parse(const char *text, size_t len, struct sts_policy *p, char *err, size_t errlen);
const char *sts_mode_name(enum sts_mode m);
/* Does host (no trailing dot) match the pattern (case-insensitive)? */
bool sts_mx_match(const char *pattern, const char *host);

#endif
