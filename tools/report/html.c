/* html.c - page skeleton, escaping, tables; see html.h. */
#include "html.h"

#include <inttypes.h>
#include <string.h>

#include "../../output/escape.h"

void html_text(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t n = strlen(s);
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        size_t k = out_utf8_seq_len(p + i, n - i);
        if (k == 0 || c < 0x20 || c == 0x7f) {
            fputs("\xef\xbf\xbd", f); /* U+FFFD */
            i += k ? k : out_utf8_bad_len(p + i, n - i);
            continue;
        }
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&#39;", f); break;
        default: fwrite(p + i, 1, k, f);
        }
        i += k;
    }
}

static const char style[] =
    "body{font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,sans-serif;margin:0 auto;max-width:1000px;"
    "padding:16px 24px;color:#1d2330;background:#fff}"
    "h1{font-size:22px;margin:8px 0 2px}h2{font-size:18px;margin:28px 0 8px;border-bottom:2px solid #d8dde6;"
    "padding-bottom:3px}h3{font-size:15px;margin:16px 0 4px}"
    ".meta{color:#5b6475;margin:0 0 12px}"
    ".cards{display:flex;flex-wrap:wrap;gap:10px;margin:12px 0}"
    ".card{border:1px solid #d8dde6;border-radius:6px;padding:8px 12px;min-width:140px}"
    ".card b{display:block;font-size:20px}"
    "table{border-collapse:collapse;margin:8px 0 14px;font-size:13px}"
    "th,td{border:1px solid #d8dde6;padding:3px 8px;text-align:left;vertical-align:top}"
    "td.n{text-align:right;font-variant-numeric:tabular-nums}"
    "th{background:#eef1f6;cursor:pointer;user-select:none;min-width:3em}"
    "th[data-dir=asc]::after{content:' \\25B2'}th[data-dir=desc]::after{content:' \\25BC'}"
    "figure{margin:10px 0 16px}figcaption{font-weight:600;margin-bottom:4px}"
    "svg{max-width:100%;height:auto}svg text{font:12px system-ui,sans-serif;fill:#1d2330}"
    ".s0{fill:#3b6fd6}.s1{fill:#2e9c6a}.s2{fill:#d9822b}.s3{fill:#c94040}.bg{fill:#f2f4f8}"
    ".note{fill:#5b6475}ul.hosts{columns:3;font:12px ui-monospace,monospace;margin:4px 0 12px}"
    ".more{color:#5b6475}"
    "@media print{body{max-width:none;padding:0}h2{break-after:avoid}figure,table,.card{break-inside:avoid}"
    "th{background:#eee!important;-webkit-print-color-adjust:exact;print-color-adjust:exact}"
    "svg rect{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/* Sorts a table by the clicked column: numeric when both cells hold a
 * number in data-v, text otherwise; a second click reverses. */
static const char script[] =
    "document.querySelectorAll('table.sortable th').forEach(function(th){"
    "th.addEventListener('click',function(){"
    "var t=th.closest('table'),b=t.tBodies[0],i=Array.prototype.indexOf.call(th.parentNode.children,th);"
    "var asc=th.getAttribute('data-dir')!=='asc';"
    "t.querySelectorAll('th').forEach(function(h){h.removeAttribute('data-dir');});"
    "th.setAttribute('data-dir',asc?'asc':'desc');"
    "var rows=Array.prototype.slice.call(b.rows);"
    "rows.sort(function(x,y){var a=x.cells[i].getAttribute('data-v'),c=y.cells[i].getAttribute('data-v');"
    "var r=(a!==null&&c!==null)?(parseFloat(a)-parseFloat(c)):"
    "x.cells[i].textContent.localeCompare(y.cells[i].textContent);return asc?r:-r;});"
    "rows.forEach(function(r){b.appendChild(r);});});});";

void html_begin(FILE *f, const char *title)
{
    fputs("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
          "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n<title>",
          f);
    html_text(f, title);
    fprintf(f, "</title>\n<style>%s</style>\n</head>\n<body>\n", style);
}

void html_end(FILE *f)
{
    fprintf(f, "<script>%s</script>\n</body>\n</html>\n", script);
}

void html_table_begin(FILE *f, const char *id, int ncols, const char *const *cols)
{
    fprintf(f, "<table class=\"sortable\" id=\"%s\">\n<thead><tr>", id);
    for (int i = 0; i < ncols; i++) {
        const char *c = cols[i][0] == '#' ? cols[i] + 1 : cols[i];
        fputs("<th>", f);
        /* long field names (ours: letters and '_') wrap at an underscore */
        for (const char *p = c; *p; p++)
            if (*p == '_')
                fputs("_<wbr>", f);
            else
                fputc(*p, f);
        fputs("</th>", f);
    }
    fputs("</tr></thead>\n<tbody>\n", f);
}

void html_table_end(FILE *f)
{
    fputs("</tbody>\n</table>\n", f);
}

void html_row_begin(FILE *f)
{
    fputs("<tr>", f);
}

void html_row_end(FILE *f)
{
    fputs("</tr>\n", f);
}

void html_cell_text(FILE *f, const char *s)
{
    fputs("<td>", f);
    html_text(f, s);
    fputs("</td>", f);
}

void html_cell_num(FILE *f, const char *col, uint64_t v, uint64_t total)
{
    fprintf(f, "<td class=\"n\" data-col=\"%s\" data-v=\"%" PRIu64 "\">%" PRIu64, col, v, v);
    if (total)
        fprintf(f, " <small>(%.1f%%)</small>", 100.0 * (double)v / (double)total);
    fputs("</td>", f);
}
