/*
 * reader.h - reading the project's own output back, one record at a time.
 *
 * The one reader of mailtls output (NDJSON or CSV, as written by output/),
 * used by --resume (scanner/resume.c) and mailtls-stats. Contract:
 *
 *  - Input: a path ("-" = stdin), plain or gzip; zlib's gzread reads both,
 *    and concatenated gzip members (every --resume appends one). The
 *    format is taken from the first non-blank byte: '{' = NDJSON, anything
 *    else = CSV with its header line first. Empty lines are skipped.
 *  - Streaming, bounded memory: one line at a time, at most
 *    READER_LINE_MAX bytes; about 3.5 MiB per reader whatever the file
 *    size. No allocation after reader_open.
 *  - Records: each line becomes a struct record (output/record.h). Fields
 *    are matched by name against rec_fields[] (reader_field gives the id
 *    for a name); unknown names and columns are ignored, so newer files
 *    still load. Values are cut to the field caps like any record.
 *  - Exact bytes: a text field holds the bytes the scanner recorded. In
 *    NDJSON, when a sibling `<field>_b64` (standard base64) is present it
 *    wins over the U+FFFD-replaced text; for a list, `<field>_b64` is an
 *    array of base64 strings, one per item (a null item falls back to the
 *    text item). Older files' escapes still decode: \uXXXX, surrogate
 *    pairs, and the lone \udc80-\udcff escapes that stand for one raw byte
 *    each (Python's surrogateescape). CSV cells use the writer's lossless
 *    escaping (output/escape.h).
 *  - Damage: a line that does not parse is READER_BAD_LINE ("path:N: why");
 *    call again to go on (a bad CSV header is READER_ERROR). A read error
 *    or a damaged gzip stream is READER_ERROR, unless torn_tail_ok: then
 *    the file is taken to end there (a killed scan's torn last gzip member
 *    or line), reader_torn() says so, and an unterminated last line is
 *    dropped rather than returned.
 */
#ifndef MAILTLS_OUT_READER_H
#define MAILTLS_OUT_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "record.h"

#define READER_LINE_MAX (1024 * 1024)

struct reader;

struct reader_opts {
    bool torn_tail_ok; /* a cut or damaged end is the end of the file */
};

enum reader_result {
    READER_RECORD,   /* *r filled from the next line */
    READER_END,      /* no more records */
    READER_BAD_LINE, /* err = "path:N: why"; the next call goes on */
    READER_ERROR,    /* err = "path[:N]: why"; stop */
};

/* NULL with err ("path: why") when the file cannot be opened. */
struct reader *reader_open(const char *path, const struct reader_opts *o, char *err, size_t errlen);
enum reader_result reader_next(struct reader *rd, struct record *r, char *err, size_t errlen);
/* The raw bytes of the line last returned (without its "\n", with the
 * "\r" of a CRLF ending: CSV rows have one), e.g. to copy a record
 * unchanged; valid until the next reader_next call. */
const char *reader_line(const struct reader *rd, size_t *len);
/* CSV: the header line as read, raw like reader_line (valid until
 * reader_close); NULL for NDJSON or before the first reader_next. */
const char *reader_header(const struct reader *rd, size_t *len);
long reader_line_number(const struct reader *rd); /* 1-based, of the last line */
bool reader_is_csv(const struct reader *rd);
bool reader_is_gzip(const struct reader *rd);
bool reader_torn(const struct reader *rd); /* torn_tail_ok cut something */
void reader_close(struct reader *rd);

/* Field id for a name (exact, case-sensitive), or -1. */
int reader_field(const char *name, size_t len);

/* Line-level decoding for callers that have the lines already (tests,
 * tools): a reader without a file. */
struct reader *reader_new_lines(void);
int reader_json_line(struct reader *rd, struct record *r, const char *line, size_t len, char *err,
                     size_t errlen);
/* The first line of each CSV file: learns the column order. */
int reader_csv_header(struct reader *rd, const char *line, size_t len, char *err, size_t errlen);
int reader_csv_line(struct reader *rd, struct record *r, const char *line, size_t len, char *err,
                    size_t errlen);

#endif
