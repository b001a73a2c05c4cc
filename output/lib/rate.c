/* rate.c - token bucket (see rate.h). */
#include "rate.h"

void rate_init(struct rate_limit *r, double rate, double burst, double tokens, uint64_t now)
{
    r->rate = rate;
    r->burst = burst;
    r->tokens = tokens;
    r->at_ms = now;
}

void rate_refill(struct rate_limit *r, uint64_t now)
{
    if (r->rate <= 0)
        return;
    if (now > r->at_ms) {
        r->tokens += (double)(now - r->at_ms) * r->rate / 1000.0;
        if (r->tokens > r->burst)
            r->tokens = r->burst;
    }
    r->at_ms = now;
}

bool rate_take(struct rate_limit *r)
{
    if (r->rate <= 0)
        return true;
    if (r->tokens < 1.0)
        return false;
    r->tokens -= 1.0;
    return true;
}

void rate_charge(struct rate_limit *r)
{
    if (r->rate > 0)
        r->tokens -= 1.0;
}

uint64_t rate_next_ms(const struct rate_limit *r, uint64_t now)
{
    if (rate_ready(r))
        return now;
    return now + (uint64_t)((1.0 - r->tokens) * 1000.0 / r->rate) + 1;
}
