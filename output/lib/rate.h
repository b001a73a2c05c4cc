/*
 * rate.h - a token bucket: at most `rate` events per second, bursts of at
 * most `burst`.
 *
 * The scanner's --rate (new connections) and the resolver's --dns-rate
 * (queries) both use it. Time is whatever millisecond clock the caller
 * runs on (the loop clock, or the monotonic one); it must not go back.
 * rate <= 0 means unlimited: every take succeeds.
 */
#ifndef MAILTLS_LIB_RATE_H
#define MAILTLS_LIB_RATE_H

#include <stdbool.h>
#include <stdint.h>

struct rate_limit {
    double rate;  /* tokens per second; <= 0 = unlimited */
    double burst; /* most tokens kept */
    double tokens;
    uint64_t at_ms; /* time of the last refill */
};

/* Starts with `tokens` tokens at time now. */
void rate_init(struct rate_limit *r, double rate, double burst, double tokens, uint64_t now);
/* Adds the tokens earned since the last refill, up to burst. */
void rate_refill(struct rate_limit *r, uint64_t now);
/* A whole token is there (or no limit). */
static inline bool rate_ready(const struct rate_limit *r)
{
    return r->rate <= 0 || r->tokens >= 1.0;
}
/* Takes a token: false (nothing taken) when none is there. */
bool rate_take(struct rate_limit *r);
/* Takes a token even when none is there: the balance goes below zero and
 * the next rate_take waits until it is paid back (a connection that must
 * open now, counted all the same). */
void rate_charge(struct rate_limit *r);
/* When the next whole token will be there (now when one is); for waits. */
uint64_t rate_next_ms(const struct rate_limit *r, uint64_t now);

#endif
