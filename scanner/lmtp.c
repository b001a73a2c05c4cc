/*
 * lmtp.c - the LMTP probe (RFC 2033; STARTTLS as in SMTP, RFC 3207).
 *
 * LMTP is SMTP's conversation with LHLO in place of EHLO and no HELO to
 * fall back on (RFC 2033 4.1), on port 24 by convention. The steps, the
 * facts recorded (banner, caps and auth before and after TLS, STARTTLS
 * reply) and the phase names are smtp.c's; this file only says how LMTP
 * differs. --probe-auth runs SMTP's AUTH PLAIN probe unchanged (servers
 * without AUTH answer 5xx: auth_probe "not-offered").
 */
#include "conn.h"
#include "smtp.h"

static const struct smtp_variant lmtp_variant = {.hello = "LHLO", .helo_fallback = false};

const struct proto_ops lmtp_ops = {
    .name = "lmtp",
    .on_start = smtp_start,
    .on_line = smtp_line,
    .on_tls_up = smtp_tls_up,
    .phase_name = smtp_phase_name,
    .on_cut = smtp_cut,
    .variant = &lmtp_variant,
};
