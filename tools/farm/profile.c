/*
 * Profiles: which behaviour an address gets.
 *
 * The pick is deterministic so that tests and benchmarks know the expected
 * outcome of every address without talking to the farm:
 *
 *   key  = IPv4 address as a 32-bit number in host order (127.1.2.3 is
 *          0x7f010203); for an IPv6 address, the FNV-1a hash of its 16
 *          bytes with bit 63 set, so it never equals an IPv4 key;
 *   h    = hash_splitmix64(seed ^ hash_splitmix64(key));
 *   slot = h % total_weight;
 *   the profile is the first mix entry whose cumulative weight exceeds slot,
 *   walking the entries in the order they were given in --profiles.
 *
 * Tests should not re-implement this: `mailtls-farm --print-profile ADDR`
 * and `--list-profiles N --base ADDR` print it with the same code.
 */
#include "farm.h"

#include "../../output/lib/hash.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *const profile_names[PROFILE__COUNT] = {
#define X(id, name) [PROFILE_##id] = name,
    FARM_PROFILES(X)
#undef X
};

const char *profile_name(enum profile p)
{
    return (unsigned)p < PROFILE__COUNT ? profile_names[p] : "?";
}

int profile_from_name(const char *name, size_t len, enum profile *out)
{
    for (unsigned i = 0; i < PROFILE__COUNT; i++) {
        if (strlen(profile_names[i]) == len && memcmp(profile_names[i], name, len) == 0) {
            *out = (enum profile)i;
            return 0;
        }
    }
    return -1;
}

int profile_mix_parse(const char *spec, struct profile_mix *mix, char *err, size_t err_len)
{
    memset(mix, 0, sizeof(*mix));
    const char *p = spec;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t item_len = end ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', item_len);
        size_t name_len = eq ? (size_t)(eq - p) : item_len;
        enum profile prof;
        if (profile_from_name(p, name_len, &prof) != 0) {
            snprintf(err, err_len, "unknown profile '%.*s'", (int)name_len, p);
            return -1;
        }
        unsigned long weight = 1; /* "name" alone means weight 1 */
        if (eq) {
            char num[16];
            size_t num_len = item_len - name_len - 1;
            if (num_len == 0 || num_len >= sizeof(num)) {
                snprintf(err, err_len, "bad weight for '%.*s'", (int)name_len, p);
                return -1;
            }
            memcpy(num, eq + 1, num_len);
            num[num_len] = '\0';
            char *num_end;
            weight = strtoul(num, &num_end, 10);
            if (*num_end != '\0' || weight > 1000000) {
                snprintf(err, err_len, "bad weight '%s' for '%.*s'", num, (int)name_len, p);
                return -1;
            }
        }
        if (weight > 0) {
            for (unsigned i = 0; i < mix->n; i++) {
                if (mix->profile[i] == prof) {
                    snprintf(err, err_len, "profile '%s' given twice", profile_name(prof));
                    return -1;
                }
            }
            if (mix->n == MIX_MAX_ENTRIES) {
                snprintf(err, err_len, "too many profiles");
                return -1;
            }
            mix->profile[mix->n] = prof;
            mix->weight[mix->n] = (uint32_t)weight;
            mix->total_weight += weight;
            mix->n++;
        }
        if (!end)
            break;
        p = end + 1;
    }
    if (mix->total_weight == 0) {
        snprintf(err, err_len, "the profile mix has no positive weight");
        return -1;
    }
    return 0;
}

uint64_t profile_key_v4(uint32_t addr_host_order)
{
    return addr_host_order;
}

uint64_t profile_key_v6(const struct in6_addr *a)
{
    /* An IPv4-mapped address is the same host as its IPv4 form. */
    if (IN6_IS_ADDR_V4MAPPED(a)) {
        uint32_t v4;
        memcpy(&v4, &a->s6_addr[12], 4);
        return profile_key_v4(ntohl(v4));
    }
    return hash_fnv1a64(a->s6_addr, 16) | (1ULL << 63);
}

enum profile profile_pick(const struct profile_mix *mix, uint64_t seed, uint64_t key)
{
    uint64_t slot = hash_splitmix64(seed ^ hash_splitmix64(key)) % mix->total_weight;
    for (unsigned i = 0; i < mix->n; i++) {
        if (slot < mix->weight[i])
            return mix->profile[i];
        slot -= mix->weight[i];
    }
    return mix->profile[mix->n - 1]; /* unreachable: weights sum to total */
}

int profile_key_from_text(const char *text, uint64_t *key)
{
    struct in_addr a4;
    struct in6_addr a6;
    if (inet_pton(AF_INET, text, &a4) == 1) {
        *key = profile_key_v4(ntohl(a4.s_addr));
        return 0;
    }
    if (inet_pton(AF_INET6, text, &a6) == 1) {
        *key = profile_key_v6(&a6);
        return 0;
    }
    return -1;
}

bool profile_offers_starttls(enum profile p)
{
    switch (p) {
    case PROFILE_STARTTLS_AUTH:
    case PROFILE_STRICT:
    case PROFILE_LEGACY_TLS:
    case PROFILE_DELAY:
    case PROFILE_RESET_TLS: return true;
    case PROFILE_IMPLICIT_ONLY:
    case PROFILE_NO_TLS:
    case PROFILE_TARPIT:
    case PROFILE_BUSY:
    case PROFILE_GARBAGE:
    case PROFILE__COUNT: break;
    }
    return false;
}

bool profile_offers_auth_plain(enum profile p)
{
    switch (p) {
    case PROFILE_STARTTLS_AUTH:
    case PROFILE_NO_TLS:
    case PROFILE_LEGACY_TLS:
    case PROFILE_DELAY:
    case PROFILE_RESET_TLS: return true;
    case PROFILE_STRICT:
    case PROFILE_IMPLICIT_ONLY:
    case PROFILE_TARPIT:
    case PROFILE_BUSY:
    case PROFILE_GARBAGE:
    case PROFILE__COUNT: break;
    }
    return false;
}

bool profile_serves_implicit(enum profile p)
{
    switch (p) {
    case PROFILE_STARTTLS_AUTH:
    case PROFILE_STRICT:
    case PROFILE_IMPLICIT_ONLY:
    case PROFILE_LEGACY_TLS:
    case PROFILE_DELAY:
    case PROFILE_BUSY: /* handshake, then the busy farewell over TLS */ return true;
    case PROFILE_NO_TLS:
    case PROFILE_TARPIT:
    case PROFILE_GARBAGE:
    case PROFILE_RESET_TLS:
    case PROFILE__COUNT: break;
    }
    return false;
}
