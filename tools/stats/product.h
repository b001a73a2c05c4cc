/*
 * product.h - names the server software from its crawler text (crawl.h).
 *
 * Rules are case-insensitive substrings, tried in table order (first match
 * wins; more specific names come before the software they embed, e.g.
 * Zimbra before Postfix). The table in product.c is the documentation;
 * SCHEMA-OUTPUT.md repeats it. No match gives "unknown"; no banner gives
 * NULL.
 */
#ifndef MAILTLS_STATS_PRODUCT_H
#define MAILTLS_STATS_PRODUCT_H

#include <stddef.h>

const char *product_detect(const char *lower_text, size_t len);
/* Prints the rules, one "product<TAB>pattern" per line. */
void product_print_rules(void);

#endif
