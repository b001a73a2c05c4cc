/*
 * fuzz_shodan_count.c - mailtls-stats' reader of Shodan answers
 * (tools/stats/shodan.c): a "results" file or a raw /shodan/host/count
 * answer, and the queries in them (tools/stats/query.c, filters included).
 *
 * Input: first byte even = the rest is the file, no --shodan-query; odd =
 * the rest up to the first '\n' is the --shodan-query, then the file.
 * Checked: the result is 0 or -1, a failure leaves a terminated message,
 * success adds checks with Shodan totals and bounded facets. When bit 1 of
 * the first byte is set, two records then run through every check and the
 * report is written (to /dev/null), so compiled queries are evaluated too
 * (only then: the report walks every facet table, which is slow).
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../tools/stats/report.h"
#include "../../tools/stats/shodan.h"
#include "../../tools/stats/stats.h"
#include "fuzz_check.h"

static struct stats st;
static struct record recs[2];
static FILE *devnull;

static void setup(void)
{
    FUZZ_CHECK(stats_init(&st) == 0);
    devnull = fopen("/dev/null", "w");
    FUZZ_CHECK(devnull != NULL);
    struct record *r = &recs[0];
    rec_reset(r);
    rec_set_str(r, F_IP, "192.0.2.1");
    rec_set_int(r, F_PORT, 25);
    rec_set_str(r, F_PROTOCOL, "smtp");
    rec_set_str(r, F_STATUS, "ok");
    rec_set_str(r, F_BANNER, "220 mx.example ESMTP Postfix\r\n");
    rec_list_add(r, F_CAPS_BEFORE_TLS, "STARTTLS", 8);
    rec_list_add(r, F_CAPS_BEFORE_TLS, "AUTH PLAIN LOGIN", 16);
    rec_set_bool(r, F_STARTTLS_OFFERED, true);
    rec_set_bool(r, F_STARTTLS_OK, true);
    rec_set_str(r, F_TLS_VERSION, "TLSv1.2");
    rec_list_add(r, F_TLS_VERSIONS, "TLSv1", 5);
    rec_list_add(r, F_TLS_VERSIONS, "TLSv1.2", 7);
    rec_set_int(r, F_CERT_DAYS_LEFT, -3);
    rec_set_str(r, F_COUNTRY, "US");
    rec_set_int(r, F_ASN, 64500);
    r = &recs[1];
    rec_reset(r);
    rec_set_str(r, F_IP, "192.0.2.2");
    rec_set_int(r, F_PORT, 143);
    rec_set_str(r, F_PROTOCOL, "imap");
    rec_set_str(r, F_STATUS, "ok");
    rec_set_str(r, F_BANNER, "* OK Dovecot ready.");
    rec_list_add(r, F_CAPS_BEFORE_TLS, "LOGINDISABLED", 13);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static int ready;
    if (!ready) {
        setup();
        ready = 1;
    }
    if (size == 0)
        return 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    char query[QUERY_MAX_BYTES + 2];
    const char *q = NULL;
    if (data[0] & 1) {
        const char *nl = memchr(text, '\n', len);
        size_t qn = nl ? (size_t)(nl - text) : len;
        if (qn > QUERY_MAX_BYTES + 1)
            qn = QUERY_MAX_BYTES + 1;
        memcpy(query, text, qn);
        query[qn] = '\0'; /* a NUL inside just shortens it, as argv would */
        q = query;
        size_t skip = nl ? (size_t)(nl - text) + 1 : len;
        text += skip;
        len -= skip;
    }
    char err[512];
    memset(err, 'x', sizeof err);
    int before = st.n_checks;
    bool used;
    int rc = shodan_parse(&st, text, len, "fuzz", q, &used, err, sizeof err);
    FUZZ_CHECK(rc == 0 || rc == -1);
    FUZZ_CHECK(!used || (q && rc == 0));
    if (rc < 0)
        FUZZ_CHECK(memchr(err, '\0', sizeof err) != NULL);
    else
        FUZZ_CHECK(st.n_checks >= before);
    for (int i = before; i < st.n_checks; i++) {
        FUZZ_CHECK(st.checks[i].has_shodan);
        FUZZ_CHECK(st.checks[i].n_facets <= CHECK_MAX_FACETS);
        for (int f = 0; f < st.checks[i].n_facets; f++)
            FUZZ_CHECK(st.checks[i].facets[f].n_values <= CHECK_MAX_FACET_VALUES);
    }
    if (rc == 0 && st.n_checks > before && (data[0] & 2)) {
        for (int k = 0; k < 2; k++)
            stats_add(&st, &recs[k]);
        struct report *rep = report_new(devnull, REPORT_JSON);
        FUZZ_CHECK(rep != NULL);
        stats_report(&st, rep, 3);
        report_finish(rep);
    }
    /* back to the built-in checks only, for the next input */
    for (int i = st.n_builtin; i < st.n_checks; i++)
        check_free(&st.checks[i]);
    st.n_checks = st.n_builtin;
    return 0;
}
