/* svg.c - bar charts as inline SVG; see svg.h. */
#include "svg.h"

#include "html.h"

#define SVG_WIDTH 760
#define SVG_LABEL_W 230
#define SVG_BAR_W 400
#define SVG_ROW_H 22

static void figure_begin(FILE *f, const char *id, const char *caption)
{
    fprintf(f, "<figure class=\"chart\" id=\"%s\">\n<figcaption>", id);
    html_text(f, caption);
    fputs("</figcaption>\n", f);
}

static void empty(FILE *f, const char *caption, const char *note)
{
    fprintf(f, "<svg width=\"%d\" height=\"30\" viewBox=\"0 0 %d 30\" role=\"img\"><title>", SVG_WIDTH,
            SVG_WIDTH);
    html_text(f, caption);
    fputs("</title><text class=\"note\" x=\"4\" y=\"20\">", f);
    html_text(f, note);
    fputs("</text></svg>\n</figure>\n", f);
}

void svg_hbars(FILE *f, const char *id, const char *caption, const struct svg_bar *bars, int n, double max,
               const char *empty_note)
{
    figure_begin(f, id, caption);
    if (n == 0) {
        empty(f, caption, empty_note);
        return;
    }
    if (max <= 0)
        for (int i = 0; i < n; i++)
            max = bars[i].value > max ? bars[i].value : max;
    int h = n * SVG_ROW_H + 8;
    fprintf(f, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>", SVG_WIDTH, h,
            SVG_WIDTH, h);
    html_text(f, caption);
    fputs("</title>\n", f);
    for (int i = 0; i < n; i++) {
        int y = 4 + i * SVG_ROW_H;
        double w = max > 0 ? bars[i].value / max * SVG_BAR_W : 0;
        fprintf(f, "<text x=\"%d\" y=\"%d\" text-anchor=\"end\">", SVG_LABEL_W - 6, y + 15);
        html_text(f, bars[i].label);
        fprintf(f, "</text><rect class=\"bg\" x=\"%d\" y=\"%d\" width=\"%d\" height=\"%d\"/>", SVG_LABEL_W,
                y + 2, SVG_BAR_W, SVG_ROW_H - 5);
        fprintf(f, "<rect class=\"s%d\" x=\"%d\" y=\"%d\" width=\"%.1f\" height=\"%d\"/>", bars[i].series & 3,
                SVG_LABEL_W, y + 2, w, SVG_ROW_H - 5);
        fprintf(f, "<text x=\"%d\" y=\"%d\">", SVG_LABEL_W + SVG_BAR_W + 6, y + 15);
        html_text(f, bars[i].text);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n</figure>\n", f);
}

void svg_columns(FILE *f, const char *id, const char *caption, const struct svg_bar *bars, int n,
                 const char *empty_note)
{
    figure_begin(f, id, caption);
    double max = 0;
    for (int i = 0; i < n; i++)
        max = bars[i].value > max ? bars[i].value : max;
    if (n == 0 || max <= 0) {
        empty(f, caption, empty_note);
        return;
    }
    const int plot_h = 160, top = 18, col_w = (SVG_WIDTH - 20) / n;
    int h = top + plot_h + 24;
    fprintf(f, "<svg width=\"%d\" height=\"%d\" viewBox=\"0 0 %d %d\" role=\"img\"><title>", SVG_WIDTH, h,
            SVG_WIDTH, h);
    html_text(f, caption);
    fputs("</title>\n", f);
    for (int i = 0; i < n; i++) {
        double bh = bars[i].value / max * plot_h;
        int x = 10 + i * col_w;
        fprintf(f, "<rect class=\"s%d\" x=\"%d\" y=\"%.1f\" width=\"%d\" height=\"%.1f\"/>",
                bars[i].series & 3, x + 4, top + plot_h - bh, col_w - 8, bh);
        fprintf(f, "<text x=\"%d\" y=\"%.1f\" text-anchor=\"middle\">", x + col_w / 2, top + plot_h - bh - 4);
        html_text(f, bars[i].text);
        fprintf(f, "</text><text x=\"%d\" y=\"%d\" text-anchor=\"middle\">", x + col_w / 2,
                top + plot_h + 16);
        html_text(f, bars[i].label);
        fputs("</text>\n", f);
    }
    fputs("</svg>\n</figure>\n", f);
}
