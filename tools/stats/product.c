/* product.c - server software recognition rules; see product.h. */
#include "product.h"

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
    {"Microsoft Exchange", "the microsoft exchange imap4 service is ready"},
    {"Microsoft Exchange", "the microsoft exchange pop3 service is ready"},
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

const char *product_detect(const char *lower_text, size_t len)
{
    if (len == 0)
        return NULL;
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        const char *p = rules[i].pattern;
        if (memmem(lower_text, len, p, strlen(p)))
            return rules[i].product;
    }
    return "unknown";
}

void product_print_rules(void)
{
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++)
        printf("%s\t%s\n", rules[i].product, rules[i].pattern);
}
