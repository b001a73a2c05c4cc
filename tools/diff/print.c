/* print.c - table, NDJSON and CSV output of mailtls-diff; see print.h. */
#include "print.h"

#include <inttypes.h>
#include <string.h>

#include "../../output/escape.h"

void print_one_sided(const struct diff_result *in, struct diff_result *out)
{
    const struct snap *s = in->new_s ? in->new_s : in->old_s;
    bool is_new = in->new_s != NULL;
    *out = (struct diff_result){.sev = in->sev, .old_s = in->old_s, .new_s = in->new_s, .n = 1};
    struct diff_change *c = &out->c[0];
    c->field = DF_STATUS;
    c->sev = in->sev;
    c->why = is_new ? "only in the new scan" : "not in the new scan";
    const char *st = s->len[STR_STATUS] ? s->str[STR_STATUS] : "null";
    snprintf(c->old_v, sizeof c->old_v, "%.80s", is_new ? "-" : st);
    snprintf(c->new_v, sizeof c->new_v, "%.80s", is_new ? st : "-");
}

static const struct snap *any_snap(const struct diff_result *r)
{
    return r->new_s ? r->new_s : r->old_s;
}

void print_header(FILE *f, enum print_format fmt)
{
    if (fmt == PRINT_TABLE)
        fprintf(f, "%-9s %-26s %-26s %-36s %s\n", "SEVERITY", "KEY", "FIELD", "OLD -> NEW", "WHY");
    else if (fmt == PRINT_CSV)
        fprintf(f, "severity,key,ip,port,domain,field,change,why,old,new\r\n");
}

static void json_str(FILE *f, const char *s)
{
    char buf[OUT_JSON_ESCAPE_MAX(SNAP_STR_MAX + DIFF_VALUE_MAX)];
    size_t n = out_json_escape(buf, sizeof buf, (const unsigned char *)s, strlen(s));
    fprintf(f, "\"%.*s\"", (int)n, buf);
}

static void json_str_or_null(FILE *f, const char *s)
{
    if (*s)
        json_str(f, s);
    else
        fputs("null", f);
}

static void csv_str(FILE *f, const char *s)
{
    char buf[OUT_CSV_ESCAPE_MAX(SNAP_STR_MAX + DIFF_VALUE_MAX)];
    size_t n = out_csv_escape(buf, sizeof buf, (const unsigned char *)s, strlen(s), false);
    fprintf(f, "\"%.*s\"", (int)n, buf);
}

static void print_json(FILE *f, const struct diff_result *r)
{
    const struct snap *s = any_snap(r);
    char key[300];
    fprintf(f, "{\"severity\":\"%s\",\"key\":", rules_sev_name(r->sev));
    json_str(f, snap_label(s, key, sizeof key));
    bool dom = s->kind == SNAP_DOMAIN;
    fputs(",\"ip\":", f);
    json_str_or_null(f, dom ? "" : s->str[STR_KEY]);
    if (dom)
        fputs(",\"port\":null,\"domain\":", f);
    else
        fprintf(f, ",\"port\":%u,\"domain\":", s->port);
    json_str_or_null(f, dom ? s->str[STR_KEY] : "");
    fputs(",\"host\":", f);
    json_str_or_null(f, s->str[STR_HOST]);
    fputs(",\"protocol\":", f);
    json_str_or_null(f, s->str[STR_PROTOCOL]);
    fputs(",\"changes\":[", f);
    for (int i = 0; i < r->n; i++) {
        const struct diff_change *c = &r->c[i];
        fprintf(f, "%s{\"field\":\"%s\",\"severity\":\"%s\",\"why\":", i ? "," : "",
                rules_field_name(c->field), rules_sev_name(c->sev));
        json_str(f, c->why);
        fputs(",\"old\":", f);
        json_str(f, c->old_v);
        fputs(",\"new\":", f);
        json_str(f, c->new_v);
        fputc('}', f);
    }
    fputs("]}\n", f);
}

static void print_csv(FILE *f, const struct diff_result *r)
{
    const struct snap *s = any_snap(r);
    char key[300];
    bool dom = s->kind == SNAP_DOMAIN;
    for (int i = 0; i < r->n; i++) {
        const struct diff_change *c = &r->c[i];
        fprintf(f, "%s,", rules_sev_name(r->sev));
        csv_str(f, snap_label(s, key, sizeof key));
        fputc(',', f);
        if (!dom)
            csv_str(f, s->str[STR_KEY]);
        if (dom)
            fputs(",,", f);
        else
            fprintf(f, ",%u,", s->port);
        if (dom)
            csv_str(f, s->str[STR_KEY]);
        fprintf(f, ",%s,%s,", rules_field_name(c->field), rules_sev_name(c->sev));
        csv_str(f, c->why);
        fputc(',', f);
        csv_str(f, c->old_v);
        fputc(',', f);
        csv_str(f, c->new_v);
        fputs("\r\n", f);
    }
}

static void print_table(FILE *f, const struct diff_result *r)
{
    char key[300], change[2 * DIFF_VALUE_MAX + 8];
    snap_label(any_snap(r), key, sizeof key);
    for (int i = 0; i < r->n; i++) {
        const struct diff_change *c = &r->c[i];
        snprintf(change, sizeof change, "%s -> %s", c->old_v, c->new_v);
        fprintf(f, "%-9s %-26s %-26s %-36s %s\n", rules_sev_name(c->sev), key, rules_field_name(c->field),
                change, c->why);
    }
}

void print_result(FILE *f, enum print_format fmt, const struct diff_result *res)
{
    struct diff_result one;
    if (!res->old_s || !res->new_s) {
        print_one_sided(res, &one);
        res = &one;
    }
    switch (fmt) {
    case PRINT_TABLE: print_table(f, res); break;
    case PRINT_JSON: print_json(f, res); break;
    case PRINT_CSV: print_csv(f, res); break;
    }
}

void print_summary(FILE *f, const struct diff_counts *c)
{
    fprintf(f,
            "old: %" PRIu64 " records, new: %" PRIu64 " records; keys: %" PRIu64 " worse, %" PRIu64
            " better, %" PRIu64 " changed, %" PRIu64 " new, %" PRIu64 " gone, %" PRIu64 " unchanged\n",
            c->records[0], c->records[1], c->by_sev[SEV_WORSE], c->by_sev[SEV_BETTER], c->by_sev[SEV_CHANGED],
            c->by_sev[SEV_NEW], c->by_sev[SEV_GONE], c->by_sev[SEV_UNCHANGED]);
}
