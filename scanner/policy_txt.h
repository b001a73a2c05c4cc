/*
 * policy_txt.h - the TXT records of mail policy: `_mta-sts.<domain>`
 * (RFC 8461 3.1) and `_smtp._tls.<domain>` (RFC 8460 3). Pure functions
 * over the joined record text (dnsraw_txt); no allocation.
 */
#ifndef MAILTLS_POLICY_TXT_H
#define MAILTLS_POLICY_TXT_H

#include <stddef.h>

enum ptxt_res {
    PTXT_OTHER, /* not a record of this kind (does not start with its version) */
    PTXT_OK,
    PTXT_BAD, /* right version, broken rest */
};

#define PTXT_STS_ID_MAX 32

/* "v=STSv1; id=20240101T000000;" -> PTXT_OK, id (1-32 letters and digits)
 * copied into id (idcap >= PTXT_STS_ID_MAX + 1). */
enum ptxt_res ptxt_sts(const char *txt, char *id, size_t idcap);

/* "v=TLSRPTv1; rua=mailto:a@b,https://c/" -> PTXT_OK, rua's value copied
 * into rua (cut to ruacap - 1). Every rua item must be a mailto: or https:
 * URI. */
enum ptxt_res ptxt_tlsrpt(const char *txt, char *rua, size_t ruacap);

#endif
