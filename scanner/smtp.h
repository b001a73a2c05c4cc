/*
 * smtp.h - SMTP's conversation for protocols that are variants of it.
 *
 * A variant (LMTP, RFC 2033) is its own protocol file with its own table
 * row: its proto_ops point at these callbacks and carry a struct
 * smtp_variant in .variant. smtp.c reads it on every step; SMTP itself has
 * .variant NULL.
 */
#ifndef MAILTLS_SMTP_H
#define MAILTLS_SMTP_H

#include <stdbool.h>
#include <stddef.h>

struct conn;

struct smtp_variant {
    const char *hello;  /* "EHLO", "LHLO" */
    bool helo_fallback; /* a 5xx to hello is retried with HELO (SMTP only) */
};

void smtp_start(struct conn *c);
void smtp_line(struct conn *c, const char *line, size_t len);
void smtp_tls_up(struct conn *c);
const char *smtp_phase_name(int phase);
void smtp_cut(struct conn *c);

#endif
