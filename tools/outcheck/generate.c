/*
 * generate.c - `outcheck generate`: N synthetic but plausible scan results
 * (SMTP/IMAP/POP3 on the usual seven ports, several server products,
 * countries and ASNs), deterministic for a given --seed. Input for the
 * mailtls-stats benchmark; the data mean nothing.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "outcheck.h"

struct product {
    const char *proto;
    const char *banner; /* %s = host name */
    const char *caps;   /* '\n'-separated cleartext capability entries */
};

static const struct product smtp_products[] = {
    {"smtp", "220 %s ESMTP Postfix (Debian/GNU)\r\n",
     "PIPELINING\nSIZE 10240000\nVRFY\nETRN\nSTARTTLS\nAUTH PLAIN LOGIN\nENHANCEDSTATUSCODES\n8BITMIME\nDSN"},
    {"smtp", "220 %s ESMTP Exim 4.96 Mon, 01 Jan 2024 10:00:00 +0000\r\n",
     "SIZE 52428800\n8BITMIME\nPIPELINING\nAUTH PLAIN LOGIN\nCHUNKING\nSTARTTLS\nHELP"},
    {"smtp", "220 %s ESMTP Sendmail 8.15.2/8.15.2; Mon, 1 Jan 2024 10:00:00 GMT\r\n",
     "ENHANCEDSTATUSCODES\nPIPELINING\n8BITMIME\nSIZE\nDSN\nETRN\nSTARTTLS\nDELIVERBY\nHELP"},
    {"smtp", "220 %s Microsoft ESMTP MAIL Service ready at Mon, 1 Jan 2024 10:00:00 +0000\r\n",
     "SIZE 37748736\nPIPELINING\nDSN\nENHANCEDSTATUSCODES\nSTARTTLS\nAUTH "
     "NTLM\n8BITMIME\nBINARYMIME\nCHUNKING"},
    {"smtp", "220 %s ESMTP OpenSMTPD\r\n", "8BITMIME\nENHANCEDSTATUSCODES\nSIZE 36700160\nDSN\nHELP"},
    {"smtp", "220 %s ESMTP\r\n", "PIPELINING\n8BITMIME\nSTARTTLS"},
};
static const struct product imap_products[] = {
    {"imap",
     "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS AUTH=PLAIN "
     "AUTH=LOGIN] Dovecot (Debian) ready.\r\n",
     "IMAP4rev1\nSASL-IR\nLOGIN-REFERRALS\nID\nENABLE\nIDLE\nLITERAL+\nSTARTTLS\nAUTH=PLAIN\nAUTH=LOGIN"},
    {"imap",
     "* OK [CAPABILITY IMAP4rev1 SASL-IR LOGIN-REFERRALS ID ENABLE IDLE LITERAL+ STARTTLS LOGINDISABLED] "
     "Dovecot ready.\r\n",
     "IMAP4rev1\nSASL-IR\nLOGIN-REFERRALS\nID\nENABLE\nIDLE\nLITERAL+\nSTARTTLS\nLOGINDISABLED"},
    {"imap",
     "* OK [CAPABILITY IMAP4rev1 UIDPLUS CHILDREN NAMESPACE QUOTA IDLE STARTTLS] Courier-IMAP ready. "
     "Copyright 1998-2018 Double Precision, Inc.\r\n",
     "IMAP4rev1\nUIDPLUS\nCHILDREN\nNAMESPACE\nQUOTA\nIDLE\nSTARTTLS"},
    {"imap", "* OK %s Cyrus IMAP 3.6.1 server ready\r\n",
     "IMAP4rev1\nLITERAL+\nID\nENABLE\nSTARTTLS\nAUTH=PLAIN"},
};
static const struct product pop3_products[] = {
    {"pop3", "+OK Dovecot (Debian) ready.\r\n",
     "CAPA\nTOP\nUIDL\nRESP-CODES\nPIPELINING\nAUTH-RESP-CODE\nSTLS\nUSER\nSASL PLAIN LOGIN"},
    {"pop3", "+OK Dovecot ready.\r\n", "CAPA\nTOP\nUIDL\nRESP-CODES\nPIPELINING\nSTLS"},
    {"pop3", "+OK Hello there.\r\n",
     "TOP\nUSER\nLOGIN-DELAY 10\nPIPELINING\nUIDL\nIMPLEMENTATION Courier Mail Server\nSTLS"},
};

static const struct {
    int port;
    const char *mode;
    const struct product *products;
    int n_products;
} ports[] = {
    {25, "starttls", smtp_products, 6},  {587, "starttls", smtp_products, 6},
    {465, "implicit", smtp_products, 6}, {143, "starttls", imap_products, 4},
    {993, "implicit", imap_products, 4}, {110, "starttls", pop3_products, 3},
    {995, "implicit", pop3_products, 3},
};

static const char *countries[] = {"US", "DE", "FR", "GB", "NL", "RU", "JP", "BR", "CN", "PL"};
static const struct {
    int asn;
    const char *org;
} ases[] = {{16509, "Amazon.com, Inc."},     {24940, "Hetzner Online GmbH"}, {16276, "OVH SAS"},
            {8075, "Microsoft Corporation"}, {14061, "DigitalOcean, LLC"},   {3320, "Deutsche Telekom AG"}};
static const char *versions[] = {"TLSv1.3", "TLSv1.2", "TLSv1.2", "TLSv1"};
static const char *ciphers[] = {"TLS_AES_256_GCM_SHA384", "ECDHE-RSA-AES256-GCM-SHA384",
                                "ECDHE-RSA-AES128-GCM-SHA256", "AES256-SHA"};
static const char *statuses[] = {"refused", "connect-timeout", "read-timeout", "tls-failed"};
static const char *probes[] = {"tls-required", "cleartext-evaluated", "not-offered", "unexpected"};

static void add_caps(struct record *r, const char *caps, bool implicit)
{
    rec_list_init(r, implicit ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS);
    rec_list_init(r, implicit ? F_AUTH_AFTER_TLS : F_AUTH_BEFORE_TLS);
    bool plain = false, starttls = false;
    for (const char *p = caps; *p;) {
        const char *nl = strchr(p, '\n');
        size_t n = nl ? (size_t)(nl - p) : strlen(p);
        enum rec_field cf = implicit ? F_CAPS_AFTER_TLS : F_CAPS_BEFORE_TLS;
        enum rec_field af = implicit ? F_AUTH_AFTER_TLS : F_AUTH_BEFORE_TLS;
        rec_list_add(r, cf, p, n);
        if (n >= 5 && strncmp(p, "AUTH ", 5) == 0) {
            /* the tokens after AUTH */
            for (const char *q = p + 5; q < p + n;) {
                const char *sp = memchr(q, ' ', (size_t)(p + n - q));
                size_t tl = sp ? (size_t)(sp - q) : (size_t)(p + n - q);
                rec_list_add(r, af, q, tl);
                plain |= (tl == 5 && !strncmp(q, "PLAIN", 5)) || (tl == 5 && !strncmp(q, "LOGIN", 5));
                q += tl + 1;
            }
        } else if (n > 5 && strncmp(p, "AUTH=", 5) == 0) {
            rec_list_add(r, af, p + 5, n - 5);
            plain = true;
        } else if (n >= 5 && strncmp(p, "SASL ", 5) == 0) {
            rec_list_add(r, af, "PLAIN", 5);
            rec_list_add(r, af, "LOGIN", 5);
            plain = true;
        } else if (n == 4 && strncmp(p, "USER", 4) == 0) {
            rec_list_add(r, af, "USER", 4);
            plain = true;
        } else if ((n == 8 && !strncmp(p, "STARTTLS", 8)) || (n == 4 && !strncmp(p, "STLS", 4))) {
            starttls = true;
        }
        p += n + (nl ? 1 : 0);
    }
    if (!implicit) {
        rec_set_bool(r, F_STARTTLS_OFFERED, starttls);
        rec_set_bool(r, F_PLAINTEXT_AUTH_BEFORE_TLS, plain);
    }
}

static void fill(struct record *r, unsigned long long *st, unsigned long long n, bool probe_auth)
{
    unsigned long long x = oc_rand(st);
    int pi = (int)(x % 7);
    char buf[512], host[64];
    rec_reset(r);
    snprintf(buf, sizeof buf, "%u.%u.%u.%u", (unsigned)(x >> 8) % 223 + 1, (unsigned)(x >> 16) & 255,
             (unsigned)(x >> 24) & 255, (unsigned)(n & 255));
    rec_set_str(r, F_IP, buf);
    rec_set_int(r, F_PORT, ports[pi].port);
    const struct product *p = &ports[pi].products[(x >> 32) % (unsigned)ports[pi].n_products];
    rec_set_str(r, F_PROTOCOL, p->proto);
    rec_set_str(r, F_TLS_MODE, ports[pi].mode);
    bool implicit = ports[pi].mode[0] == 'i';
    rec_set_str(r, F_COUNTRY, countries[(x >> 40) % 10]);
    int ai = (int)((x >> 44) % 6);
    rec_set_int(r, F_ASN, ases[ai].asn);
    rec_set_str(r, F_AS_ORG, ases[ai].org);
    rec_set_int(r, F_TIME_MS, (int64_t)((x >> 50) % 3000));
    if ((x >> 36) % 10 == 0) {
        rec_set_str(r, F_STATUS, statuses[(x >> 52) % 4]);
        rec_set_str(r, F_ERROR, "synthetic failure");
        return;
    }
    rec_set_str(r, F_STATUS, "ok");
    snprintf(host, sizeof host, "mx%llu.example.net", n);
    snprintf(buf, sizeof buf, p->banner, host);
    rec_set_str(r, F_BANNER, buf);
    add_caps(r, p->caps, implicit);
    bool tls = implicit || rec_list_contains(r, F_CAPS_BEFORE_TLS, "STARTTLS", false) ||
               rec_list_contains(r, F_CAPS_BEFORE_TLS, "STLS", false);
    if (!implicit && tls)
        rec_set_bool(r, F_STARTTLS_OK, (x >> 20) % 20 != 0);
    if (probe_auth && !implicit)
        rec_set_str(r, F_AUTH_PROBE, probes[(x >> 54) % 4]);
    if (tls && (implicit || rec_int(r, F_STARTTLS_OK))) {
        rec_set_str(r, F_TLS_VERSION, versions[(x >> 56) % 4]);
        rec_set_str(r, F_TLS_CIPHER, ciphers[(x >> 58) % 4]);
        rec_set_bool(r, F_CERT_TRUSTED, (x >> 60) % 3 != 0);
        rec_set_str(r, F_CERT_SUBJECT, "CN=mail.example.net");
        rec_list_add(r, F_CERT_SAN, host, strlen(host));
    }
}

int generate_main(int argc, char **argv)
{
    struct out_options o = {.format = OUT_JSON};
    unsigned long long count = 1000, seed = 1;
    bool probe_auth = true;
    const char *path = NULL;
    for (int i = 1; i < argc;) {
        int used = oc_parse_out_option(argc, argv, i, &o);
        if (used) {
            i += used;
        } else if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = strtoull(argv[i + 1], NULL, 10);
            i += 2;
        } else if (strcmp(argv[i], "--seed") == 0 && i + 1 < argc) {
            seed = strtoull(argv[i + 1], NULL, 10);
            i += 2;
        } else if (strcmp(argv[i], "--no-probe-auth") == 0) {
            probe_auth = false;
            i++;
        } else if (!path) {
            path = argv[i++];
        } else {
            fprintf(stderr, "generate: bad argument %s\n", argv[i]);
            return 2;
        }
    }
    if (!path) {
        fprintf(stderr, "usage: mailtls-outcheck generate [--count N] [--seed N] [--csv] [--gzip] OUT\n");
        return 2;
    }
    char err[512];
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    if (!w) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    static struct record r;
    unsigned long long st = seed * 0x9e3779b97f4a7c15ULL + 1;
    for (unsigned long long n = 0; n < count; n++) {
        fill(&r, &st, n, probe_auth);
        if (out_write(w, &r) < 0) {
            fprintf(stderr, "%s\n", out_error(w));
            out_close(w);
            return 1;
        }
    }
    if (out_close(w) < 0) {
        fprintf(stderr, "%s\n", out_error(NULL));
        return 1;
    }
    return 0;
}
