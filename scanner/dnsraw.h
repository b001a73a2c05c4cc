/*
 * dnsraw.h - DNS queries with the DO bit and a bounded reader of the raw
 * answers, for what c-ares 1.18 does not do itself: it neither sets DO nor
 * shows the AD bit, and it has no TLSA parser.
 *
 * dnsraw_build makes a whole query message (RD, AD and optionally CD set;
 * one EDNS0 OPT record with DO) for ares_send. dnsraw_parse reads the
 * header of an answer (rcode, AD, TC) and hands every answer-section record
 * of the asked type to a callback; CNAME records of a chain are skipped
 * (the resolver already followed them), so are records of other types.
 * Nothing is allocated; every read is checked against the message length,
 * compression pointers included (a name is at most 255 bytes and 128
 * pointer jumps).
 *
 * dnsraw_tlsa and dnsraw_txt decode one record's data.
 */
#ifndef MAILTLS_DNSRAW_H
#define MAILTLS_DNSRAW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define DNSRAW_T_A 1
#define DNSRAW_T_CNAME 5
#define DNSRAW_T_MX 15
#define DNSRAW_T_TXT 16
#define DNSRAW_T_AAAA 28
#define DNSRAW_T_OPT 41
#define DNSRAW_T_TLSA 52

#define DNSRAW_RCODE_NOERROR 0
#define DNSRAW_RCODE_SERVFAIL 2
#define DNSRAW_RCODE_NXDOMAIN 3

#define DNSRAW_QUERY_MAX 300 /* a 253-byte name, the header and the OPT record */

struct dnsraw_header {
    uint8_t rcode; /* 4-bit header rcode (extended bits ignored) */
    bool qr, ad, tc, cd;
    uint16_t qdcount, ancount;
    uint16_t matched; /* answer records of the asked type handed to the callback */
};

/* Called for each answer record of the asked type; rdata lies inside the message. */
typedef void (*dnsraw_rr_fn)(void *arg, const unsigned char *rdata, uint16_t rdlen);

/* Writes the query for (name, type) into buf; returns its length, or -1
 * when the name is not a valid dotted name or buf is too small. */
int dnsraw_build(unsigned char *buf, size_t cap, const char *name, uint16_t type, bool cd);

/* Reads msg; fn (may be NULL) gets every answer record of `type`.
 * 0, or -1 when the message is malformed (h then holds what was read). */
int dnsraw_parse(const unsigned char *msg, size_t len, uint16_t type, struct dnsraw_header *h,
                 dnsraw_rr_fn fn, void *arg);

struct dnsraw_tlsa {
    uint8_t usage, selector, mtype;
    uint16_t data_len;         /* the association data's full length */
    const unsigned char *data; /* inside the message */
};
/* 0, or -1 when the record is shorter than its fixed part. */
int dnsraw_tlsa(const unsigned char *rdata, uint16_t rdlen, struct dnsraw_tlsa *t);

/* Joins the record's character-strings into out (NUL-terminated, cut to
 * outcap - 1 bytes; a NUL byte inside becomes ?). Returns the full
 * joined length, or -1 when a string runs past the record. */
int dnsraw_txt(const unsigned char *rdata, uint16_t rdlen, char *out, size_t outcap);

#endif
