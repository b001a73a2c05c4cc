/* schema_sql.c - CREATE TABLE and loaders for PostgreSQL, DuckDB and
 * SQLite, generated from rec_fields[]; see schema_sql.h. */
#include "schema_sql.h"

#include <string.h>

#include "record.h"

#define TABLE "mailtls"

/* How a field's value is typed in SQL: from rec_type, plus times. */
enum sql_kind { K_TEXT, K_LIST, K_INT, K_BOOL, K_TIME, K_JSON };

static enum sql_kind kind_of(int f)
{
    /* Indexed by rec_type: a type added later (JSON objects) falls to
     * K_JSON instead of failing to build. */
    static const enum sql_kind by_type[] = {
        [RT_TEXT] = K_TEXT, [RT_LIST] = K_LIST, [RT_INT] = K_INT, [RT_BOOL] = K_BOOL};
    unsigned t = (unsigned)rec_fields[f].type;
    if (t >= sizeof by_type / sizeof by_type[0])
        return K_JSON;
    enum sql_kind k = by_type[t];
    if (k == K_TEXT && strstr(rec_fields[f].doc, "ISO 8601"))
        return K_TIME;
    return k;
}

static const char *const types[3][6] = {
    [SCHEMA_SQL_POSTGRES] = {"text", "text[]", "bigint", "boolean", "timestamptz", "jsonb"},
    [SCHEMA_SQL_DUCKDB] = {"VARCHAR", "VARCHAR[]", "BIGINT", "BOOLEAN", "TIMESTAMPTZ", "JSON"},
    [SCHEMA_SQL_SQLITE] = {"TEXT", "TEXT", "INTEGER", "BOOLEAN", "TEXT", "TEXT"},
};

int schema_sql_dialect(const char *format, enum schema_sql_dialect *d)
{
    if (strcmp(format, "sql-postgres") == 0 || strcmp(format, "sql-postgresql") == 0)
        *d = SCHEMA_SQL_POSTGRES;
    else if (strcmp(format, "sql-duckdb") == 0)
        *d = SCHEMA_SQL_DUCKDB;
    else if (strcmp(format, "sql-sqlite") == 0)
        *d = SCHEMA_SQL_SQLITE;
    else
        return -1;
    return 0;
}

const char *schema_sql_type(enum schema_sql_dialect d, int f)
{
    return types[d][kind_of(f)];
}

/* The expression turning staged text column "name" into its typed value. */
static void print_conversion(FILE *out, enum schema_sql_dialect d, int f)
{
    const char *n = rec_fields[f].name;
    static const char *const fmt[3][6] = {
        [SCHEMA_SQL_POSTGRES] = {"\"%s\"", "mailtls_list(\"%s\")", "\"%s\"::bigint", "\"%s\"::boolean",
                                 "\"%s\"::timestamptz", "\"%s\"::jsonb"},
        [SCHEMA_SQL_DUCKDB] = {"\"%s\"", "mailtls_list(\"%s\")", "CAST(\"%s\" AS BIGINT)",
                               "CAST(\"%s\" AS BOOLEAN)", "CAST(\"%s\" AS TIMESTAMPTZ)",
                               "CAST(\"%s\" AS JSON)"},
        /* .import cannot tell null from "": text '' becomes NULL, lists
         * stay '' (the empty list is the common case) */
        [SCHEMA_SQL_SQLITE] = {"NULLIF(\"%s\", '')", "\"%s\"", "CAST(NULLIF(\"%s\", '') AS INTEGER)",
                               "CASE \"%s\" WHEN 'true' THEN 1 WHEN 'false' THEN 0 END", "NULLIF(\"%s\", '')",
                               "NULLIF(\"%s\", '')"},
    };
    fputs("    ", out);
    fprintf(out, fmt[d][kind_of(f)], n, n);
    fprintf(out, " AS \"%s\"%s\n", n, f + 1 < F_COUNT ? "," : "");
}

/* The column list of a table: typed, or all text (staging). */
static void print_columns(FILE *out, enum schema_sql_dialect d, int staging, int with_doc)
{
    for (int f = 0; f < F_COUNT; f++) {
        const char *t = staging ? types[d][K_TEXT] : schema_sql_type(d, f);
        const char *sep = f + 1 < F_COUNT ? "," : "";
        if (with_doc)
            fprintf(out, "    \"%s\" %s%s -- %s\n", rec_fields[f].name, t, sep, rec_fields[f].doc);
        else
            fprintf(out, "    \"%s\" %s%s\n", rec_fields[f].name, t, sep);
    }
}

static void print_table(FILE *out, enum schema_sql_dialect d)
{
    fputs("CREATE TABLE IF NOT EXISTS " TABLE " (\n", out);
    print_columns(out, d, 0, 1);
    fputs(");\n\n", out);
}

static void print_postgres(FILE *out)
{
    fputs("-- PostgreSQL 15 or later (HEADER MATCH). Load a CSV scan with psql:\n"
          "--   \\copy mailtls_csv FROM 'scan.csv' WITH (FORMAT csv, HEADER MATCH)\n"
          "--   INSERT INTO mailtls SELECT * FROM mailtls_from_csv; TRUNCATE mailtls_csv;\n"
          "-- gzip: \\copy mailtls_csv FROM PROGRAM 'zcat scan.csv.gz' WITH (FORMAT csv, HEADER MATCH)\n"
          "-- an NDJSON scan (quote and delimiter bytes that never occur raw in it):\n"
          "--   \\copy mailtls_json FROM 'scan.json' WITH (FORMAT csv, QUOTE E'\\x01', DELIMITER E'\\x02')\n"
          "--   INSERT INTO mailtls SELECT * FROM mailtls_from_json; TRUNCATE mailtls_json;\n\n",
          out);
    print_table(out, SCHEMA_SQL_POSTGRES);
    fputs("CREATE TABLE IF NOT EXISTS mailtls_csv (\n", out);
    print_columns(out, SCHEMA_SQL_POSTGRES, 1, 0);
    fputs(");\n\nCREATE TABLE IF NOT EXISTS mailtls_json (j jsonb);\n\n"
          "-- The CSV list encoding: items joined by '|', an empty item written \\e,\n"
          "-- the empty list an empty (quoted) string, null an empty unquoted field.\n"
          "CREATE OR REPLACE FUNCTION mailtls_list(s text) RETURNS text[] LANGUAGE sql IMMUTABLE AS $$\n"
          "    SELECT CASE WHEN s IS NULL THEN NULL WHEN s = '' THEN '{}'::text[]\n"
          "    ELSE ARRAY(SELECT CASE WHEN x = '\\e' THEN '' ELSE x END\n"
          "               FROM unnest(string_to_array(s, '|')) WITH ORDINALITY AS t(x, n) ORDER BY n) END\n"
          "$$;\n\n"
          "CREATE OR REPLACE VIEW mailtls_from_csv AS SELECT\n",
          out);
    for (int f = 0; f < F_COUNT; f++)
        print_conversion(out, SCHEMA_SQL_POSTGRES, f);
    fputs("FROM mailtls_csv;\n\n"
          "-- NDJSON keys are field names; <field>_b64 keys (exact bytes) are not columns.\n"
          "CREATE OR REPLACE VIEW mailtls_from_json AS\n"
          "    SELECT (jsonb_populate_record(NULL::mailtls, j)).* FROM mailtls_json;\n",
          out);
}

static void print_duckdb(FILE *out)
{
    fputs("-- DuckDB 1.3 or later (lambda syntax). Load a CSV or NDJSON scan (plain or .gz):\n"
          "--   INSERT INTO mailtls SELECT * FROM mailtls_from_csv('scan.csv.gz');\n"
          "--   INSERT INTO mailtls SELECT * FROM mailtls_from_json('scan.json.gz');\n\n",
          out);
    print_table(out, SCHEMA_SQL_DUCKDB);
    fputs("-- The CSV list encoding: items joined by '|', an empty item written \\e.\n"
          "CREATE OR REPLACE MACRO mailtls_list(s) AS\n"
          "    CASE WHEN s IS NULL THEN NULL WHEN s = '' THEN CAST([] AS VARCHAR[])\n"
          "    ELSE list_transform(string_split(s, '|'), lambda x: CASE WHEN x = '\\e' THEN '' ELSE x END) "
          "END;\n\n"
          "-- all_varchar: no type guessing; allow_quoted_nulls = false: \"\" is an empty\n"
          "-- string (an empty list), only an unquoted empty field is null.\n"
          "CREATE OR REPLACE MACRO mailtls_from_csv(path) AS TABLE SELECT\n",
          out);
    for (int f = 0; f < F_COUNT; f++)
        print_conversion(out, SCHEMA_SQL_DUCKDB, f);
    fputs("FROM read_csv(path, header = true, all_varchar = true, allow_quoted_nulls = false,\n"
          "              delim = ',', quote = '\"', escape = '\"');\n\n"
          "-- Named columns: <field>_b64 keys (exact bytes) are ignored.\n"
          "CREATE OR REPLACE MACRO mailtls_from_json(path) AS TABLE SELECT * FROM read_json(path,\n"
          "    format = 'newline_delimited', columns = {",
          out);
    for (int f = 0; f < F_COUNT; f++)
        fprintf(out, "%s'%s': '%s'", f ? ", " : "", rec_fields[f].name,
                schema_sql_type(SCHEMA_SQL_DUCKDB, f));
    fputs("});\n", out);
}

static void print_sqlite(FILE *out)
{
    fputs("-- SQLite 3.32 or later. Load a CSV scan with the sqlite3 shell:\n"
          "--   .import --csv --skip 1 scan.csv mailtls_csv\n"
          "--   INSERT INTO mailtls SELECT * FROM mailtls_from_csv; DELETE FROM mailtls_csv;\n"
          "-- gzip: .import --csv --skip 1 '|zcat scan.csv.gz' mailtls_csv\n"
          "-- Booleans are stored 0/1 (WHERE starttls_ok works); lists keep the CSV\n"
          "-- text, items joined by '|' (.import reads null and \"\" alike: a null list is '').\n\n",
          out);
    print_table(out, SCHEMA_SQL_SQLITE);
    fputs("CREATE TABLE IF NOT EXISTS mailtls_csv (\n", out);
    print_columns(out, SCHEMA_SQL_SQLITE, 1, 0);
    fputs(");\n\nCREATE VIEW IF NOT EXISTS mailtls_from_csv AS SELECT\n", out);
    for (int f = 0; f < F_COUNT; f++)
        print_conversion(out, SCHEMA_SQL_SQLITE, f);
    fputs("FROM mailtls_csv;\n", out);
}

int schema_sql_print(FILE *out, enum schema_sql_dialect d)
{
    fprintf(out, "-- mailtls records, %d fields (mailtls-scan %s --schema --format sql-%s).\n", F_COUNT,
            MAILTLS_VERSION,
            d == SCHEMA_SQL_POSTGRES ? "postgres"
            : d == SCHEMA_SQL_DUCKDB ? "duckdb"
                                     : "sqlite");
    switch (d) {
    case SCHEMA_SQL_POSTGRES: print_postgres(out); break;
    case SCHEMA_SQL_DUCKDB: print_duckdb(out); break;
    case SCHEMA_SQL_SQLITE: print_sqlite(out); break;
    }
    return fflush(out) == 0 && !ferror(out) ? 0 : -1;
}
