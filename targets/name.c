/*
 * name.c - strict host-name validation.
 *
 * A name we accept is later sent as TLS SNI and to the resolver, so we hold
 * it to RFC 1123 host-name syntax (letters, digits, hyphen; labels of 1-63
 * bytes not starting or ending with a hyphen; at most 253 bytes) and refuse
 * a last label made only of digits, which would make "1.2.3.256" a "name".
 * A single trailing dot (fully qualified form) is accepted and removed,
 * because RFC 6066 section 3 forbids the trailing dot in SNI.
 */
#include "target.h"

#include <stdio.h>
#include <string.h>

static bool is_alnum(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9');
}

int tgt_name_check(const char *s, size_t len, char out[TGT_NAME_MAX + 1], char *err, size_t errlen)
{
    size_t label_start = 0;
    bool label_all_digits = true;

    if (len > 0 && s[len - 1] == '.')
        len--;
    if (len == 0) {
        snprintf(err, errlen, "empty host name");
        return -1;
    }
    if (len > 253) {
        snprintf(err, errlen, "host name is %zu bytes long (at most 253)", len);
        return -1;
    }
    for (size_t i = 0; i <= len; i++) {
        unsigned char c = i < len ? (unsigned char)s[i] : '.';
        if (c == '.') {
            size_t label_len = i - label_start;
            if (label_len == 0) {
                snprintf(err, errlen, "empty label at byte %zu of host name", i + 1);
                return -1;
            }
            if (label_len > 63) {
                snprintf(err, errlen, "label '%.20s...' is %zu bytes long (at most 63)", s + label_start,
                         label_len);
                return -1;
            }
            if (s[label_start] == '-' || s[i - 1] == '-') {
                snprintf(err, errlen, "label '%.*s' starts or ends with '-'", (int)label_len,
                         s + label_start);
                return -1;
            }
            if (i == len && label_all_digits) {
                snprintf(err, errlen, "last label is all digits: neither an IP address nor a host name");
                return -1;
            }
            label_start = i + 1;
            label_all_digits = true;
            continue;
        }
        if (c >= 0x80) {
            snprintf(err, errlen, "non-ASCII byte 0x%02X in host name: give the A-label (xn--) form", c);
            return -1;
        }
        if (!is_alnum(c) && c != '-') {
            if (c < 0x20 || c == 0x7f)
                snprintf(err, errlen, "control byte 0x%02X in host name", c);
            else
                snprintf(err, errlen, "character '%c' is not allowed in a host name", c);
            return -1;
        }
        if (c < '0' || c > '9')
            label_all_digits = false;
    }
    memcpy(out, s, len);
    out[len] = '\0';
    return 0;
}
