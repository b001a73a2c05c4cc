/*
 * now.h - the monotonic clock in milliseconds.
 *
 * One definition for the scanner, the output writer and the tools (they
 * used to carry copies of it). Deadlines of the scanner's loop run on the
 * loop's own clock (scanner/engine.h) built on top of this one.
 */
#ifndef MAILTLS_LIB_NOW_H
#define MAILTLS_LIB_NOW_H

#include <stdint.h>

/* CLOCK_MONOTONIC in ms. */
uint64_t now_ms(void);

#endif
