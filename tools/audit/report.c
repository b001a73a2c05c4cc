/*
 * report.c - the text report and the NDJSON objects of mailtls-audit.
 *
 * NDJSON: a finding has exactly product, service, setting, value, file,
 * line, severity, reason, recommendation, doc (the contract); a
 * live check has kind "live", product, service, address, port,
 * config_verdict, live_verdict, agree and explain; one object of kind
 * "source" per product says how the configuration was read.
 */
#include <string.h>

#include "../../output/escape.h"
#include "report.h"

static void json_str(FILE *f, const char *s)
{
    size_t len = strlen(s);
    char buf[OUT_JSON_ESCAPE_MAX(AUD_VAL_MAX * 2)];
    if (len > AUD_VAL_MAX * 2)
        len = AUD_VAL_MAX * 2;
    size_t n = out_json_escape(buf, sizeof buf, (const unsigned char *)s, len);
    fputc('"', f);
    fwrite(buf, 1, n, f);
    fputc('"', f);
}

static void json_kv(FILE *f, const char *k, const char *v, bool first)
{
    fprintf(f, "%s\"%s\":", first ? "" : ",", k);
    json_str(f, v ? v : "");
}

void report_json(FILE *f, const struct aud_source *src, size_t n_src, const struct aud_findings *fs,
                 const struct aud_live *live, size_t n_live)
{
    for (size_t i = 0; i < n_src; i++) {
        fputc('{', f);
        json_kv(f, "kind", "source", true);
        json_kv(f, "product", src[i].product, false);
        json_kv(f, "path", src[i].path, false);
        json_kv(f, "via", src[i].via, false);
        fprintf(f, ",\"warnings\":%u}\n", src[i].warnings);
    }
    for (size_t i = 0; i < fs->n; i++) {
        const struct aud_finding *x = &fs->v[i];
        fputc('{', f);
        json_kv(f, "product", x->product, true);
        json_kv(f, "service", x->service, false);
        json_kv(f, "setting", x->setting, false);
        json_kv(f, "value", x->value, false);
        json_kv(f, "file", x->file, false);
        fprintf(f, ",\"line\":%d", x->line);
        json_kv(f, "severity", aud_severity_name(x->severity), false);
        json_kv(f, "reason", x->reason, false);
        json_kv(f, "recommendation", x->recommendation, false);
        json_kv(f, "doc", x->doc, false);
        fputs("}\n", f);
    }
    for (size_t i = 0; i < n_live; i++) {
        const struct aud_live *x = &live[i];
        fputc('{', f);
        json_kv(f, "kind", "live", true);
        json_kv(f, "product", x->l->product, false);
        json_kv(f, "service", x->l->service, false);
        json_kv(f, "address", x->address, false);
        fprintf(f, ",\"port\":%u", x->l->port);
        json_kv(f, "config_verdict", x->l->verdict, false);
        json_kv(f, "live_verdict", x->live_verdict, false);
        fprintf(f, ",\"agree\":%s", x->agree ? "true" : "false");
        json_kv(f, "explain", x->explain, false);
        fputs("}\n", f);
    }
}

static const char *where(const struct aud_finding *x, char *buf, size_t cap)
{
    if (x->line)
        snprintf(buf, cap, "%s:%d", x->file, x->line);
    else
        snprintf(buf, cap, "%s (default, not set)", x->file);
    return buf;
}

void report_text(FILE *f, const struct aud_source *src, size_t n_src, const struct aud_findings *fs,
                 const struct aud_live *live, size_t n_live)
{
    for (size_t i = 0; i < n_src; i++) {
        fprintf(f, "%s: %s read via %s%s%s%s\n", src[i].product, src[i].path, src[i].via,
                src[i].note ? " (" : "", src[i].note ? src[i].note : "", src[i].note ? ")" : "");
        if (src[i].warnings)
            fprintf(f, "  %u parse warning(s), first: %s\n", src[i].warnings, src[i].first_warning);
    }
    unsigned count[4] = {0};
    /* Grouped by product and service, in the order first seen. */
    for (size_t i = 0; i < fs->n; i++) {
        const struct aud_finding *x = &fs->v[i];
        bool seen = false;
        for (size_t k = 0; k < i && !seen; k++)
            seen = strcmp(fs->v[k].product, x->product) == 0 && strcmp(fs->v[k].service, x->service) == 0;
        if (seen)
            continue;
        fprintf(f, "\n[%s] %s\n", x->product, x->service);
        for (size_t k = i; k < fs->n; k++) {
            const struct aud_finding *y = &fs->v[k];
            if (strcmp(y->product, x->product) != 0 || strcmp(y->service, x->service) != 0)
                continue;
            char wbuf[AUD_PATH_MAX + 32];
            fprintf(f, "  %-6s %s = %s\n", aud_severity_name(y->severity), y->setting, y->value);
            fprintf(f, "         at: %s\n", where(y, wbuf, sizeof wbuf));
            fprintf(f, "         why: %s\n", y->reason);
            fprintf(f, "         fix: %s\n", y->recommendation);
            fprintf(f, "         doc: %s\n", y->doc);
            count[y->severity]++;
        }
    }
    if (n_live) {
        fprintf(f, "\nLive check (declared local listeners only)\n");
        for (size_t i = 0; i < n_live; i++) {
            const struct aud_live *x = &live[i];
            fprintf(f, "  %-8s %s %s port %u: config %s, live %s\n", x->agree ? "agree" : "MISMATCH",
                    x->l->product, x->l->service, x->l->port, x->l->verdict, x->live_verdict);
            fprintf(f, "           at %s; config: %s; %s\n", x->address, x->l->why, x->explain);
        }
    }
    fprintf(f, "\n%u high, %u medium, %u low, %u info\n", count[SEV_HIGH], count[SEV_MEDIUM], count[SEV_LOW],
            count[SEV_INFO]);
}
