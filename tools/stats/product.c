/* product.c - server software recognition rules; see product.h. */
#include "product.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const struct {
    const char *product;
    const char *pattern; /* lower case */
} rules[] = {
    /* Suites that embed Postfix, Exim or Dovecot name themselves first. */
    {"Zimbra", "zimbra"},
    {"Microsoft Exchange", "microsoft esmtp mail service"},
    {"Microsoft Exchange", "microsoft exchange"},
    {"Microsoft Exchange", "x-exps"},
    {"Microsoft Exchange", "xexch50"},
    {"hMailServer", "hmailserver"},
    {"MDaemon", "mdaemon"},
    {"Kerio Connect", "kerio"},
    {"IceWarp", "icewarp"},
    {"Axigen", "axigen"},
    {"CommuniGate Pro", "communigate"},
    {"MailEnable", "mailenable"},
    {"SmarterMail", "smartermail"},
    {"HCL Domino", "domino"},
    {"Haraka", "haraka"},
    {"Google", "gsmtp"},
    {"Postfix", "postfix"},
    {"Exim", "exim"},
    {"Sendmail", "sendmail"},
    {"qmail", "qmail"},
    {"OpenSMTPD", "opensmtpd"},
    {"Dovecot", "dovecot"},
    {"Courier", "courier"},
    /* Courier's POP3 greets with this fixed phrase. */
    {"Courier", "+ok hello there."},
    {"Cyrus", "cyrus"},
    {"UW IMAP", "imap4rev1 20"},
};

#define N_RULES (sizeof rules / sizeof rules[0])

/* Rules indexed by their first two bytes, so one pass over the text finds
 * every candidate instead of one memmem per rule. */
static size_t pattern_len[N_RULES];
static int16_t bigram_head[65536]; /* first rule with that bigram, or -1 */
static int16_t bigram_next[N_RULES];

static void build_index(void)
{
    memset(bigram_head, 0xff, sizeof bigram_head);
    for (int i = (int)N_RULES - 1; i >= 0; i--) {
        const unsigned char *p = (const unsigned char *)rules[i].pattern;
        pattern_len[i] = strlen(rules[i].pattern);
        unsigned b = (unsigned)p[0] << 8 | p[1];
        bigram_next[i] = bigram_head[b];
        bigram_head[b] = (int16_t)i;
    }
}

const char *product_detect(const char *lower_text, size_t len)
{
    if (pattern_len[0] == 0)
        build_index();
    if (len == 0)
        return NULL;
    const unsigned char *t = (const unsigned char *)lower_text;
    int best = (int)N_RULES;
    for (size_t i = 0; i + 1 < len; i++) {
        for (int r = bigram_head[(unsigned)t[i] << 8 | t[i + 1]]; r >= 0 && r < best; r = bigram_next[r])
            if (pattern_len[r] <= len - i && memcmp(t + i, rules[r].pattern, pattern_len[r]) == 0)
                best = r;
    }
    return best < (int)N_RULES ? rules[best].product : "unknown";
}

void product_print_rules(void)
{
    for (size_t i = 0; i < N_RULES; i++)
        printf("%s\t%s\n", rules[i].product, rules[i].pattern);
}
