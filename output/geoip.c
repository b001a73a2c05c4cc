/* geoip.c - libmaxminddb lookups for country, ASN and AS organisation. */
#include "geoip.h"

#include <arpa/inet.h>
#include <maxminddb.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct geo_db {
    MMDB_s country;
    MMDB_s asn;
    bool has_country;
    bool has_asn;
};

static int open_one(const char *path, MMDB_s *db, char *err, size_t errlen)
{
    int rc = MMDB_open(path, MMDB_MODE_MMAP, db);
    if (rc != MMDB_SUCCESS) {
        snprintf(err, errlen, "%s: %s", path, MMDB_strerror(rc));
        return -1;
    }
    return 0;
}

struct geo_db *geo_open(const char *country_path, const char *asn_path, char *err, size_t errlen)
{
    if (!country_path && !asn_path) {
        snprintf(err, errlen, "geoip: no database given");
        return NULL;
    }
    struct geo_db *g = calloc(1, sizeof *g);
    if (!g) {
        snprintf(err, errlen, "geoip: out of memory");
        return NULL;
    }
    if (country_path) {
        if (open_one(country_path, &g->country, err, errlen) < 0)
            goto fail;
        g->has_country = true;
    }
    if (asn_path) {
        if (open_one(asn_path, &g->asn, err, errlen) < 0)
            goto fail;
        g->has_asn = true;
    }
    return g;
fail:
    geo_close(g);
    return NULL;
}

void geo_close(struct geo_db *g)
{
    if (!g)
        return;
    if (g->has_country)
        MMDB_close(&g->country);
    if (g->has_asn)
        MMDB_close(&g->asn);
    free(g);
}

/* Parses the record's ip as a numeric address only. */
static bool parse_ip(const struct record *r, struct sockaddr_storage *ss)
{
    if (!rec_has(r, F_IP))
        return false;
    size_t len;
    const unsigned char *ip = rec_text(r, F_IP, &len);
    char buf[INET6_ADDRSTRLEN + 1];
    if (len == 0 || len >= sizeof buf || memchr(ip, '\0', len))
        return false;
    memcpy(buf, ip, len);
    buf[len] = '\0';
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *v4 = (struct sockaddr_in *)ss;
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)ss;
    if (inet_pton(AF_INET, buf, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        return true;
    }
    if (inet_pton(AF_INET6, buf, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        return true;
    }
    return false;
}

static bool lookup(const MMDB_s *db, const struct sockaddr_storage *ss, MMDB_entry_s *entry)
{
    int mmdb_err = MMDB_SUCCESS;
    MMDB_lookup_result_s res = MMDB_lookup_sockaddr(db, (const struct sockaddr *)ss, &mmdb_err);
    if (mmdb_err != MMDB_SUCCESS || !res.found_entry)
        return false;
    *entry = res.entry;
    return true;
}

static bool get_string(MMDB_entry_s *entry, const char *k1, const char *k2, const char **s, size_t *len)
{
    MMDB_entry_data_s d;
    int rc = k2 ? MMDB_get_value(entry, &d, k1, k2, NULL) : MMDB_get_value(entry, &d, k1, NULL);
    if (rc != MMDB_SUCCESS || !d.has_data || d.type != MMDB_DATA_TYPE_UTF8_STRING)
        return false;
    *s = d.utf8_string;
    *len = d.data_size;
    return true;
}

static void enrich_country(const struct geo_db *g, const struct sockaddr_storage *ss, struct record *r)
{
    MMDB_entry_s e;
    if (!lookup(&g->country, ss, &e))
        return;
    const char *s;
    size_t len;
    /* Anycast and some provider ranges have no `country`, only the
     * country the block is registered in. */
    if (get_string(&e, "country", "iso_code", &s, &len) ||
        get_string(&e, "registered_country", "iso_code", &s, &len))
        rec_set_text(r, F_COUNTRY, s, len);
}

static void enrich_asn(const struct geo_db *g, const struct sockaddr_storage *ss, struct record *r)
{
    MMDB_entry_s e;
    if (!lookup(&g->asn, ss, &e))
        return;
    MMDB_entry_data_s d;
    if (MMDB_get_value(&e, &d, "autonomous_system_number", NULL) == MMDB_SUCCESS && d.has_data) {
        /* The writer's type depends on the number's size; take any
         * unsigned form. */
        switch (d.type) {
        case MMDB_DATA_TYPE_UINT16: rec_set_int(r, F_ASN, d.uint16); break;
        case MMDB_DATA_TYPE_UINT32: rec_set_int(r, F_ASN, d.uint32); break;
        case MMDB_DATA_TYPE_INT32: rec_set_int(r, F_ASN, d.int32); break;
        case MMDB_DATA_TYPE_UINT64: rec_set_int(r, F_ASN, (int64_t)d.uint64); break;
        default: break;
        }
    }
    const char *s;
    size_t len;
    if (get_string(&e, "autonomous_system_organization", NULL, &s, &len))
        rec_set_text(r, F_AS_ORG, s, len);
}

void geo_enrich(const struct geo_db *g, struct record *r)
{
    struct sockaddr_storage ss;
    if (!g || !parse_ip(r, &ss))
        return;
    if (g->has_country)
        enrich_country(g, &ss, r);
    if (g->has_asn)
        enrich_asn(g, &ss, r);
}
