/*
 * test_out_schema_sql.c - the SQL generator (output/schema_sql.c): every
 * field of rec_fields[] becomes a column of `mailtls` in every dialect,
 * once, with the type its rec_type asks for, and the CSV conversion view
 * names every column. (tests/loopback/test_sql_ddl.py loads real scans
 * with the output; this only pins the mapping.)
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../output/record.h"
#include "../../output/schema_sql.h"

static int failures;

#define CHECK(cond)                                                                                          \
    do {                                                                                                     \
        if (!(cond)) {                                                                                       \
            fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);                         \
            failures++;                                                                                      \
        }                                                                                                    \
    } while (0)

/* The whole script of one dialect, NUL-terminated (caller frees). */
static char *script(enum schema_sql_dialect d)
{
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    CHECK(f != NULL);
    CHECK(schema_sql_print(f, d) == 0);
    fclose(f);
    return buf;
}

/* The text between "CREATE TABLE IF NOT EXISTS mailtls (" and ");". */
static char *table_body(const char *s)
{
    const char *a = strstr(s, "CREATE TABLE IF NOT EXISTS mailtls (\n");
    if (!a)
        return NULL;
    a += strlen("CREATE TABLE IF NOT EXISTS mailtls (\n");
    const char *b = strstr(a, "\n);");
    return b ? strndup(a, (size_t)(b - a + 1)) : NULL;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = hay; (p = strstr(p, needle)); p++)
        n++;
    return n;
}

static void test_dialect(enum schema_sql_dialect d, const char *time_type, const char *list_type,
                         const char *bool_type, const char *int_type)
{
    char *s = script(d);
    char *body = s ? table_body(s) : NULL;
    CHECK(body != NULL);
    if (!body) {
        free(s);
        return;
    }
    CHECK(count(body, "\n") == F_COUNT); /* one line per field, nothing else */
    for (int f = 0; f < F_COUNT; f++) {
        char col[128];
        snprintf(col, sizeof col, "    \"%s\" %s", rec_fields[f].name, schema_sql_type(d, f));
        if (!strstr(body, col))
            fprintf(stderr, "dialect %d: no column line '%s'\n", (int)d, col);
        CHECK(strstr(body, col) != NULL);
        /* the conversion from staged CSV text names the column once */
        snprintf(col, sizeof col, " AS \"%s\"", rec_fields[f].name);
        CHECK(count(s, col) == 1);
    }
    CHECK(strcmp(schema_sql_type(d, F_CERT_NOT_AFTER), time_type) == 0);
    CHECK(strcmp(schema_sql_type(d, F_CERT_NOT_BEFORE), time_type) == 0);
    CHECK(strcmp(schema_sql_type(d, F_CAPS_BEFORE_TLS), list_type) == 0);
    CHECK(strcmp(schema_sql_type(d, F_STARTTLS_OK), bool_type) == 0);
    CHECK(strcmp(schema_sql_type(d, F_PORT), int_type) == 0);
    CHECK(strstr(s, "mailtls_from_csv") != NULL);
    free(body);
    free(s);
}

int main(void)
{
    enum schema_sql_dialect d;
    CHECK(schema_sql_dialect("sql-postgres", &d) == 0 && d == SCHEMA_SQL_POSTGRES);
    CHECK(schema_sql_dialect("sql-postgresql", &d) == 0 && d == SCHEMA_SQL_POSTGRES);
    CHECK(schema_sql_dialect("sql-duckdb", &d) == 0 && d == SCHEMA_SQL_DUCKDB);
    CHECK(schema_sql_dialect("sql-sqlite", &d) == 0 && d == SCHEMA_SQL_SQLITE);
    CHECK(schema_sql_dialect("sql-mysql", &d) < 0 && schema_sql_dialect("csv", &d) < 0);
    test_dialect(SCHEMA_SQL_POSTGRES, "timestamptz", "text[]", "boolean", "bigint");
    test_dialect(SCHEMA_SQL_DUCKDB, "TIMESTAMPTZ", "VARCHAR[]", "BOOLEAN", "BIGINT");
    test_dialect(SCHEMA_SQL_SQLITE, "TEXT", "TEXT", "BOOLEAN", "INTEGER");
    /* NDJSON loaders: PostgreSQL through jsonb, DuckDB with a column per field */
    char *pg = script(SCHEMA_SQL_POSTGRES), *duck = script(SCHEMA_SQL_DUCKDB);
    CHECK(pg && strstr(pg, "jsonb_populate_record(NULL::mailtls, j)"));
    for (int f = 0; duck && f < F_COUNT; f++) {
        char key[128];
        snprintf(key, sizeof key, "'%s': '%s'", rec_fields[f].name, schema_sql_type(SCHEMA_SQL_DUCKDB, f));
        CHECK(strstr(duck, key) != NULL);
    }
    free(pg);
    free(duck);
    if (failures) {
        fprintf(stderr, "%d check(s) failed\n", failures);
        return 1;
    }
    printf("test_out_schema_sql: all checks passed\n");
    return 0;
}
