/*
 * schema_sql.h - `mailtls-scan --schema --format sql-postgres|sql-duckdb|
 * sql-sqlite`: SQL that creates a typed table for mailtls records and the
 * helpers that load the scanner's CSV (and, for PostgreSQL and DuckDB,
 * NDJSON) into it.
 *
 * Generated from rec_fields[] (record.c), so a new field appears without a
 * change here. The SQL type comes from the field's rec_type:
 *
 *   rec_type   PostgreSQL   DuckDB       SQLite
 *   RT_INT     bigint       BIGINT       INTEGER
 *   RT_BOOL    boolean      BOOLEAN      BOOLEAN (stored 0/1)
 *   RT_TEXT    text         VARCHAR      TEXT
 *   RT_LIST    text[]       VARCHAR[]    TEXT (CSV list text, items|joined)
 *   other      jsonb        JSON         TEXT (a type added later: JSON)
 *
 * except that a text field whose doc line says "ISO 8601" is a time
 * (timestamptz, TIMESTAMPTZ; SQLite keeps the ISO text, which its date
 * functions read).
 *
 * Every dialect prints the same objects: the typed table `mailtls`, the
 * text-only staging table `mailtls_csv` a CSV is copied into (DuckDB reads
 * files directly and needs none), and `mailtls_from_csv`, a view (DuckDB:
 * a table macro taking the path) that converts staged rows: "true"/"false"
 * to booleans, digits to integers, the CSV list encoding (items joined by
 * '|', an empty item written \e) to arrays. PostgreSQL adds `mailtls_json`
 * (one jsonb per NDJSON line) and the view `mailtls_from_json`; DuckDB the
 * macro `mailtls_from_json(path)`. The load commands are printed as
 * comments at the top (README "Analysing results").
 *
 * Values loaded from CSV keep the CSV's escapes (\\ and \xHH for control
 * bytes and invalid UTF-8, \x7C for a '|' inside a list item): they are
 * valid UTF-8 text in every database. NDJSON gives the decoded text.
 */
#ifndef MAILTLS_SCHEMA_SQL_H
#define MAILTLS_SCHEMA_SQL_H

#include <stdio.h>

enum schema_sql_dialect { SCHEMA_SQL_POSTGRES, SCHEMA_SQL_DUCKDB, SCHEMA_SQL_SQLITE };

/* "sql-postgres", "sql-duckdb" or "sql-sqlite" (also "sql-postgresql");
 * 0, or -1 for any other name. */
int schema_sql_dialect(const char *format, enum schema_sql_dialect *d);
/* The SQL type of field f (enum rec_field) in dialect d. */
const char *schema_sql_type(enum schema_sql_dialect d, int f);
/* Prints the whole script; returns 0, or -1 when writing failed. */
int schema_sql_print(FILE *out, enum schema_sql_dialect d);

#endif
