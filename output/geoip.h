/*
 * geoip.h - country and AS enrichment from MaxMind-format databases.
 *
 * geo_open() maps (MMDB_MODE_MMAP) a Country or City database and/or an
 * ASN database (GeoLite2/GeoIP2 layout, or any .mmdb with the same keys);
 * either path may be NULL. geo_enrich() reads the record's `ip` text and
 * sets:
 *   country  <- country.iso_code, else registered_country.iso_code
 *   asn      <- autonomous_system_number
 *   as_org   <- autonomous_system_organization
 * A field stays null when there is no database for it, the address is not
 * covered, or the key is missing. The address is parsed with inet_pton
 * (never getaddrinfo), so a hostile `ip` value cannot trigger a DNS query.
 * Lookups are read-only: one geo_db may serve several threads.
 */
#ifndef MAILTLS_GEOIP_H
#define MAILTLS_GEOIP_H

#include <stddef.h>

#include "record.h"

struct geo_db;

/* Returns NULL and fills err ("<path>: <libmaxminddb error>") on failure,
 * or when both paths are NULL. */
struct geo_db *geo_open(const char *country_path, const char *asn_path, char *err, size_t errlen);
void geo_enrich(const struct geo_db *g, struct record *r);
void geo_close(struct geo_db *g);

#endif
