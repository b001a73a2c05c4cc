/*
 * svg.h - the report's charts, drawn here as inline SVG (no library, no
 * script): horizontal bars and a column histogram. Every chart is a
 * <figure id="ID"> with a caption; an empty chart says "no data" and why
 * instead of disappearing, so a reader (and the test) finds every chart.
 */
#ifndef MAILTLS_REPORT_SVG_H
#define MAILTLS_REPORT_SVG_H

#include <stdio.h>

struct svg_bar {
    char label[96];
    double value;  /* bar length relative to the chart's max */
    char text[48]; /* printed after the bar */
    int series;    /* colour 0..3 */
};

/* Bars scaled to max (the largest value when max <= 0); empty_note is
 * shown when n == 0. */
void svg_hbars(FILE *f, const char *id, const char *caption, const struct svg_bar *bars, int n, double max,
               const char *empty_note);
/* Vertical columns with a label under each. */
void svg_columns(FILE *f, const char *id, const char *caption, const struct svg_bar *bars, int n,
                 const char *empty_note);

#endif
