/*
 * rules.c - the severity table (see rules.h). For a key in both scans:
 *
 *   field                      worse when                         better when
 *   status                     ok -> not ok ("host gone" when no   not ok -> ok
 *                              connection is made any more)
 *   starttls_offered           true -> not true                   not true -> true
 *   starttls_ok                true -> not true (offered still)   false -> true
 *   plaintext_auth_before_tls  not true -> true                   true -> false
 *   auth_probe                 -> cleartext-evaluated             cleartext-evaluated ->
 *   tls_version                lower version (or none, if no        higher version
 *                              STARTTLS/status change says so)
 *   tls_versions               lowest version accepted goes down  goes up
 *   tls_grade                  A > B > C > F, goes down           goes up
 *   cert_trusted               true -> false                      false -> true
 *   cert_hostname_match        true -> false                      false -> true
 *   cert_days_left             expired now (< 0), or now under    back over the limit
 *                              --expiry-days and was not
 *   dane                       valid -> anything else             -> valid
 *   mta_sts                    enforce > testing > none = absent   rank goes up
 *                              > invalid: rank goes down
 *   policy_breaks_delivery,    not true -> true                   true -> false
 *   starttls_injection
 *   cert_sha256, banner, mx    changed (a new certificate, banner, MX set)
 *
 * Any other difference of these fields is `changed`. When the new probe
 * made no connection, only the status change is reported: every other
 * field is null then, and "host gone" says it all (likewise the other way).
 */
#include "rules.h"

#include <stdio.h>
#include <string.h>

static const char *const field_names[DF_COUNT] = {
#define X(id, name) [DF_##id] = name,
    DIFF_FIELDS(X)
#undef X
};

const char *rules_field_name(enum diff_field f)
{
    return (unsigned)f < DF_COUNT ? field_names[f] : "?";
}

int rules_field_lookup(const char *name, size_t len)
{
    for (int i = 0; i < DF_COUNT; i++)
        if (strlen(field_names[i]) == len && memcmp(field_names[i], name, len) == 0)
            return i;
    return -1;
}

const char *rules_sev_name(enum diff_sev s)
{
    switch (s) {
    case SEV_UNCHANGED: return "unchanged";
    case SEV_CHANGED: return "changed";
    case SEV_BETTER: return "better";
    case SEV_NEW: return "new";
    case SEV_GONE: return "gone";
    case SEV_WORSE: return "worse";
    }
    return "?";
}

static const char *tri_text(uint8_t t)
{
    return t == TRI_TRUE ? "true" : t == TRI_FALSE ? "false" : "null";
}

static void add(const struct rules_opts *o, struct diff_result *res, enum diff_field f, enum diff_sev sev,
                const char *why, const char *old_v, const char *new_v)
{
    if ((o->ignore >> f) & 1 || res->n >= DIFF_MAX_CHANGES)
        return;
    struct diff_change *c = &res->c[res->n++];
    c->field = f;
    c->sev = sev;
    c->why = why;
    snprintf(c->old_v, sizeof c->old_v, "%s", old_v);
    snprintf(c->new_v, sizeof c->new_v, "%s", new_v);
    if (sev > res->sev)
        res->sev = sev;
}

static bool worse_added(const struct diff_result *res, enum diff_field f)
{
    for (int i = 0; i < res->n; i++)
        if (res->c[i].field == f && res->c[i].sev == SEV_WORSE)
            return true;
    return false;
}

/* A boolean where true is the good state (good) or the bad one. */
static void tri_rule(const struct rules_opts *o, struct diff_result *res, enum diff_field f, uint8_t a,
                     uint8_t b, bool true_is_good, const char *worse_why, const char *better_why)
{
    if (a == b)
        return;
    bool was = a == TRI_TRUE, is = b == TRI_TRUE;
    enum diff_sev sev = SEV_CHANGED;
    const char *why = "changed";
    if (was != is) {
        bool got_worse = true_is_good ? was : is;
        sev = got_worse ? SEV_WORSE : SEV_BETTER;
        why = got_worse ? worse_why : better_why;
    }
    add(o, res, f, sev, why, tri_text(a), tri_text(b));
}

static int version_rank(const char *v)
{
    static const char *const order[] = {"SSLv2", "SSLv3", "TLSv1", "TLSv1.1", "TLSv1.2", "TLSv1.3"};
    for (int i = 0; i < 6; i++)
        if (strcmp(v, order[i]) == 0)
            return i + 1;
    return 0;
}

/* Rank of the lowest version in a ','-joined tls_versions list; 0 = none. */
static int lowest_version(const char *list)
{
    int low = 0;
    char item[32];
    while (*list) {
        size_t n = strcspn(list, ",");
        snprintf(item, sizeof item, "%.*s", (int)(n < sizeof item ? n : sizeof item - 1), list);
        int r = version_rank(item);
        if (r && (!low || r < low))
            low = r;
        list += n + (list[n] == ',');
    }
    return low;
}

static int grade_rank(const char *g)
{
    return !*g ? 0 : *g == 'A' ? 4 : *g == 'B' ? 3 : *g == 'C' ? 2 : 1;
}

static int sts_rank(const char *m)
{
    return strcmp(m, "enforce") == 0 ? 4 : strcmp(m, "testing") == 0 ? 3 : strcmp(m, "invalid") == 0 ? 1 : 2;
}

/* An ordered text field: higher rank is better; equal rank, different
 * text is a plain change. */
static void rank_rule(const struct rules_opts *o, struct diff_result *res, enum diff_field f, const char *a,
                      const char *b, int ra, int rb, const char *worse_why, const char *better_why)
{
    if (strcmp(a, b) == 0)
        return;
    enum diff_sev sev = ra > rb ? SEV_WORSE : ra < rb ? SEV_BETTER : SEV_CHANGED;
    add(o, res, f, sev,
        sev == SEV_WORSE    ? worse_why
        : sev == SEV_BETTER ? better_why
                            : "changed",
        *a ? a : "null", *b ? b : "null");
}

static void status_rule(const struct rules_opts *o, struct diff_result *res, const struct snap *a,
                        const struct snap *b)
{
    const char *x = a->str[STR_STATUS], *y = b->str[STR_STATUS];
    if (strcmp(x, y) == 0)
        return;
    enum diff_sev sev = SEV_CHANGED;
    const char *why = "status changed";
    if (snap_is_ok(a) && !snap_is_ok(b)) {
        sev = SEV_WORSE;
        why = b->kind == SNAP_DOMAIN ? "domain lookup fails now"
              : snap_connected(b)    ? "probe fails now"
                                     : "host gone";
    } else if (!snap_is_ok(a) && snap_is_ok(b)) {
        sev = SEV_BETTER;
        why = a->kind == SNAP_DOMAIN ? "domain lookup works again"
              : snap_connected(a)    ? "probe succeeds now"
                                     : "host answers again";
    }
    add(o, res, DF_STATUS, sev, why, *x ? x : "null", *y ? y : "null");
}

static void days_rule(const struct rules_opts *o, struct diff_result *res, const struct snap *a,
                      const struct snap *b)
{
    if (!b->has_days)
        return;
    char x[24] = "null", y[24];
    if (a->has_days)
        snprintf(x, sizeof x, "%d", a->days_left);
    snprintf(y, sizeof y, "%d", b->days_left);
    int lim = o->expiry_days;
    bool was_expired = a->has_days && a->days_left < 0, is_expired = b->days_left < 0;
    bool was_soon = a->has_days && a->days_left < lim, is_soon = b->days_left < lim;
    if (is_expired && !was_expired)
        add(o, res, DF_CERT_DAYS_LEFT, SEV_WORSE, "certificate expired", x, y);
    else if (is_soon && !was_soon)
        add(o, res, DF_CERT_DAYS_LEFT, SEV_WORSE, "certificate expires soon", x, y);
    else if (a->has_days && was_soon && !is_soon)
        add(o, res, DF_CERT_DAYS_LEFT, SEV_BETTER, "certificate renewed", x, y);
}

static void tls_rules(const struct rules_opts *o, struct diff_result *res, const struct snap *a,
                      const struct snap *b)
{
    const char *x = a->str[STR_TLS_VERSION], *y = b->str[STR_TLS_VERSION];
    bool said = worse_added(res, DF_STATUS) || worse_added(res, DF_STARTTLS_OFFERED) ||
                worse_added(res, DF_STARTTLS_OK);
    if (*x && !*y && !said)
        add(o, res, DF_TLS_VERSION, SEV_WORSE, "TLS no longer negotiated", x, "null");
    else if (*x && *y)
        rank_rule(o, res, DF_TLS_VERSION, x, y, version_rank(x), version_rank(y), "TLS version down",
                  "TLS version up");
    else if (!*x && *y)
        add(o, res, DF_TLS_VERSION, SEV_BETTER, "TLS negotiated now", "null", y);
    x = a->str[STR_TLS_VERSIONS];
    y = b->str[STR_TLS_VERSIONS];
    if (*x && *y)
        rank_rule(o, res, DF_TLS_VERSIONS, x, y, lowest_version(x), lowest_version(y),
                  "older TLS version accepted", "oldest TLS version dropped");
    x = a->str[STR_GRADE];
    y = b->str[STR_GRADE];
    if (*x && *y)
        rank_rule(o, res, DF_TLS_GRADE, x, y, grade_rank(x), grade_rank(y), "TLS grade down", "TLS grade up");
}

static void cert_rules(const struct rules_opts *o, struct diff_result *res, const struct snap *a,
                       const struct snap *b)
{
    if (a->tri[TRI_CERT_TRUSTED] && b->tri[TRI_CERT_TRUSTED])
        tri_rule(o, res, DF_CERT_TRUSTED, a->tri[TRI_CERT_TRUSTED], b->tri[TRI_CERT_TRUSTED], true,
                 "certificate untrusted", "certificate trusted");
    if (a->tri[TRI_HOSTNAME_MATCH] && b->tri[TRI_HOSTNAME_MATCH])
        tri_rule(o, res, DF_CERT_HOSTNAME_MATCH, a->tri[TRI_HOSTNAME_MATCH], b->tri[TRI_HOSTNAME_MATCH], true,
                 "certificate name mismatch", "certificate name matches");
    days_rule(o, res, a, b);
    const char *x = a->str[STR_CERT_SHA256], *y = b->str[STR_CERT_SHA256];
    if (*x && *y && strcmp(x, y) != 0) {
        char sx[20], sy[20];
        snprintf(sx, sizeof sx, "%.16s", x);
        snprintf(sy, sizeof sy, "%.16s", y);
        add(o, res, DF_CERT_SHA256, SEV_CHANGED, "new certificate", sx, sy);
    }
}

static void policy_rules(const struct rules_opts *o, struct diff_result *res, const struct snap *a,
                         const struct snap *b)
{
    const char *x = a->str[STR_DANE], *y = b->str[STR_DANE];
    if (*x || *y)
        rank_rule(o, res, DF_DANE, x, y, strcmp(x, "valid") == 0, strcmp(y, "valid") == 0,
                  "DANE no longer valid", "DANE valid now");
    x = a->str[STR_MTA_STS];
    y = b->str[STR_MTA_STS];
    if (*x || *y)
        rank_rule(o, res, DF_MTA_STS, x, y, sts_rank(x), sts_rank(y), "MTA-STS weaker", "MTA-STS stronger");
    tri_rule(o, res, DF_POLICY_BREAKS, a->tri[TRI_POLICY_BREAKS], b->tri[TRI_POLICY_BREAKS], false,
             "policy breaks delivery", "policy no longer breaks delivery");
    tri_rule(o, res, DF_INJECTION, a->tri[TRI_INJECTION], b->tri[TRI_INJECTION], false,
             "STARTTLS command injection", "STARTTLS injection fixed");
}

void rules_compare(const struct rules_opts *o, const struct snap *a, const struct snap *b,
                   struct diff_result *res)
{
    res->sev = SEV_UNCHANGED;
    res->n = 0;
    res->old_s = a;
    res->new_s = b;
    status_rule(o, res, a, b);
    policy_rules(o, res, a, b);
    if (a->mx_hash != b->mx_hash)
        add(o, res, DF_MX, SEV_CHANGED, "MX set changed", a->mx_hash ? "..." : "null",
            b->mx_hash ? "..." : "null");
    if (!snap_connected(a) || !snap_connected(b))
        return;
    uint8_t oa = a->tri[TRI_STARTTLS_OFFERED], ob = b->tri[TRI_STARTTLS_OFFERED];
    tri_rule(o, res, DF_STARTTLS_OFFERED, oa, ob, true, "STARTTLS no longer offered", "STARTTLS offered now");
    if (!(oa == TRI_TRUE && ob != TRI_TRUE))
        tri_rule(o, res, DF_STARTTLS_OK, a->tri[TRI_STARTTLS_OK], b->tri[TRI_STARTTLS_OK], true,
                 "STARTTLS failing", "STARTTLS works now");
    tri_rule(o, res, DF_PLAINTEXT_AUTH, a->tri[TRI_PLAINTEXT_AUTH], b->tri[TRI_PLAINTEXT_AUTH], false,
             "plaintext AUTH before TLS appeared", "plaintext AUTH before TLS gone");
    const char *x = a->str[STR_AUTH_PROBE], *y = b->str[STR_AUTH_PROBE];
    if (*x && *y) {
        bool was = strcmp(x, "cleartext-evaluated") == 0, is = strcmp(y, "cleartext-evaluated") == 0;
        rank_rule(o, res, DF_AUTH_PROBE, x, y, !was, !is, "cleartext AUTH accepted",
                  "cleartext AUTH refused");
    }
    tls_rules(o, res, a, b);
    cert_rules(o, res, a, b);
    if (a->banner_hash && b->banner_hash && a->banner_hash != b->banner_hash)
        add(o, res, DF_BANNER, SEV_CHANGED, "new banner", a->str[STR_BANNER], b->str[STR_BANNER]);
}
