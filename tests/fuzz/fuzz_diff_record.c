/*
 * fuzz_diff_record.c - what mailtls-diff and mailtls-report do with the
 * hostile parts of a record: tools/diff/snap.c (record -> snap, pack,
 * unpack), tools/diff/rules.c (the severity table) and tools/report/html.c
 * (html_text, the escaper of every server-controlled string on the page).
 *
 * Input: two NDJSON lines (old, new) split at the first '\n'; each is
 * decoded by output/reader.c. Checked: a snap packs within
 * SNAP_PACKED_MAX and unpacks to itself (same key order, same facts, same
 * strings); its strings are printable ASCII; comparing a snap with itself
 * finds nothing; comparing old with new gives changes whose severities
 * are worse/better/changed, the key's severity is their maximum, values
 * are terminated; html_text of the banner and of the raw line writes valid
 * UTF-8 without a raw < > " ' or a lone &.
 */
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/reader.h"
#include "../../tools/diff/rules.h"
#include "../../tools/diff/snap.h"
#include "../../tools/report/html.h"
#include "fuzz_check.h"

static struct record rec;
static struct snap s[2], back;
static unsigned char packed[SNAP_PACKED_MAX];

static bool same_snap(const struct snap *a, const struct snap *b)
{
    if (a->kind != b->kind || a->port != b->port || memcmp(a->tri, b->tri, sizeof a->tri) != 0 ||
        a->has_days != b->has_days || (a->has_days && a->days_left != b->days_left) ||
        a->banner_hash != b->banner_hash || a->mx_hash != b->mx_hash)
        return false;
    for (int i = 0; i < STR_COUNT; i++)
        if (a->len[i] != b->len[i] || memcmp(a->str[i], b->str[i], a->len[i]) != 0 || b->str[i][b->len[i]])
            return false;
    return true;
}

static void check_html(const char *text)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    FUZZ_CHECK(f);
    html_text(f, text);
    fclose(f);
    for (size_t i = 0; i < n;) {
        size_t k = fz_utf8_len((const unsigned char *)out + i, n - i);
        FUZZ_CHECK(k > 0);
        FUZZ_CHECK(out[i] != '<' && out[i] != '>' && out[i] != '"' && out[i] != '\'');
        FUZZ_CHECK((unsigned char)out[i] >= 0x20);
        if (out[i] == '&')
            FUZZ_CHECK(strncmp(out + i, "&amp;", 5) == 0 || strncmp(out + i, "&lt;", 4) == 0 ||
                       strncmp(out + i, "&gt;", 4) == 0 || strncmp(out + i, "&quot;", 6) == 0 ||
                       strncmp(out + i, "&#39;", 5) == 0);
        i += k;
    }
    free(out);
}

static int one(struct reader *rd, const char *line, size_t len, struct snap *sn)
{
    char err[256];
    if (reader_json_line(rd, &rec, line, len, err, sizeof err) < 0)
        return -1;
    if (snap_from(sn, &rec) < 0)
        return -1;
    size_t n = snap_pack(sn, packed);
    FUZZ_CHECK(n <= SNAP_PACKED_MAX && (size_t)(packed[0] | packed[1] << 8) == n);
    FUZZ_CHECK(snap_unpack(&back, packed, n) == 0);
    FUZZ_CHECK(same_snap(sn, &back));
    FUZZ_CHECK(snap_cmp(sn, &back) == 0 && snap_cmp_packed(packed, packed) == 0);
    for (int i = 0; i < STR_COUNT; i++)
        for (size_t k = 0; k < sn->len[i]; k++)
            FUZZ_CHECK(sn->str[i][k] >= 0x20 && sn->str[i][k] < 0x7f);
    static struct diff_result self;
    struct rules_opts o = {.expiry_days = 14};
    rules_compare(&o, sn, sn, &self);
    FUZZ_CHECK(self.sev == SEV_UNCHANGED && self.n == 0);
    check_html(sn->str[STR_BANNER]);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static struct reader *rd;
    if (!rd) {
        rd = reader_new_lines();
        snap_init_fields();
    }
    const char *p = (const char *)data;
    const char *nl = memchr(p, '\n', size);
    size_t n0 = nl ? (size_t)(nl - p) : size;
    int ok0 = one(rd, p, n0, &s[0]);
    int ok1 = nl ? one(rd, nl + 1, size - n0 - 1, &s[1]) : -1;
    if (ok0 == 0 && ok1 == 0) {
        static struct diff_result res;
        struct rules_opts o = {.expiry_days = (int)(size % 30)};
        rules_compare(&o, &s[0], &s[1], &res);
        enum diff_sev max = SEV_UNCHANGED;
        for (int i = 0; i < res.n; i++) {
            const struct diff_change *c = &res.c[i];
            FUZZ_CHECK(c->sev == SEV_WORSE || c->sev == SEV_BETTER || c->sev == SEV_CHANGED);
            FUZZ_CHECK(memchr(c->old_v, 0, sizeof c->old_v) && memchr(c->new_v, 0, sizeof c->new_v));
            FUZZ_CHECK(c->why && *c->why && c->field < DF_COUNT);
            max = c->sev > max ? c->sev : max;
        }
        FUZZ_CHECK(res.sev == max);
        FUZZ_CHECK((snap_cmp(&s[0], &s[1]) == 0) == (snap_cmp(&s[1], &s[0]) == 0));
    }
    char *copy = malloc(size + 1);
    FUZZ_CHECK(copy);
    memcpy(copy, data, size);
    copy[size] = '\0';
    check_html(copy);
    free(copy);
    return 0;
}
