/*
 * test_summary.c - the program's own bookkeeping: metadata counts per port
 * (records without a port, more than 32 ports), rec_int of an unset field,
 * the --threads default, the probe count known before a scan, the --resume
 * command and the exit status.
 */
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../output/record.h"
#include "../../scanner/options.h"
#include "../../scanner/summary.h"
#include "check.h"

static int parse(struct options *o, int argc, char **argv)
{
    optind = 0; /* getopt_long: start over for each argv */
    return options_parse(argc, argv, o);
}

static char *slurp(const char *path)
{
    static char buf[1 << 16];
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    buf[n] = 0;
    fclose(f);
    return buf;
}

static void test_rec_int_unset(void)
{
    static struct record r;
    rec_reset(&r);
    rec_set_int(&r, F_PORT, 25);
    CHECK(rec_int(&r, F_PORT) == 25);
    rec_reset(&r); /* num[] keeps 25, is_set is cleared */
    CHECK(!rec_has(&r, F_PORT));
    CHECK(rec_int(&r, F_PORT) == 0);
}

/* A domain record (--mx) has no port; the struct it is built in held a
 * probe record of port 25 before. The metadata must not count it there. */
static void test_ports_in_metadata(const char *dir)
{
    char *argv[] = {"mailtls-scan", "-q", "127.0.0.1", NULL};
    struct options o;
    CHECK(parse(&o, 3, argv) == 0);
    struct summary *s = summary_new(&o, 3, argv);
    CHECK(s != NULL);
    static struct record r;
    rec_reset(&r);
    rec_set_int(&r, F_PORT, 25);
    rec_set_status(&r, STATUS_OK);
    summary_count(s, &r);
    rec_reset(&r);
    rec_set_str(&r, F_DOMAIN, "example.org");
    rec_set_status(&r, STATUS_DNS_NXDOMAIN);
    summary_count(s, &r);
    /* 40 ports from --ports plus one IP:PORT target beyond them */
    for (int p = 0; p < 40; p++) {
        rec_reset(&r);
        rec_set_int(&r, F_PORT, 10000 + p);
        rec_set_status(&r, STATUS_REFUSED);
        summary_count(s, &r);
    }
    rec_reset(&r);
    rec_set_int(&r, F_PORT, 65535);
    rec_set_status(&r, STATUS_REFUSED);
    summary_count(s, &r);
    rec_reset(&r);
    rec_set_int(&r, F_PORT, 10039);
    rec_set_status(&r, STATUS_REFUSED);
    summary_count(s, &r);
    CHECK(summary_records_of(s, STATUS_REFUSED) == 42);

    char path[512];
    snprintf(path, sizeof path, "%s/meta.json", dir);
    CHECK(summary_write_json(s, path) == 0);
    const char *j = slurp(path);
    CHECK(j != NULL);
    if (j) {
        CHECK(strstr(j, "\"ports\":{\"25\":1,\"10000\":1,") != NULL);
        CHECK(strstr(j, "\"10039\":2,\"65535\":1}") != NULL);
        CHECK(strstr(j, "\"no_port\":1") != NULL);
        CHECK(strstr(j, "\"records\":44,") != NULL);
        int listed = 0;
        for (int p = 0; p < 40; p++) {
            char key[16];
            snprintf(key, sizeof key, "\"%d\":", 10000 + p);
            listed += strstr(j, key) != NULL;
        }
        CHECK(listed == 40);
    }
    unlink(path);
    summary_free(s);
}

static void test_default_threads(void)
{
    CHECK(options_default_threads(1) == 1);
    CHECK(options_default_threads(8) == 8);
    CHECK(options_default_threads(64) == 64);
    CHECK(options_default_threads(65) == 64);
    CHECK(options_default_threads(256) == 64);
    CHECK(options_default_threads(0) == 1);
    CHECK(options_default_threads(-1) == 1);
}

static bool plan(int argc, char **argv, uint64_t *targets, uint64_t *records)
{
    struct options o;
    if (parse(&o, argc, argv) != 0)
        return false;
    struct tgt_port ports[64];
    size_t n_ports;
    char err[256];
    if (tgt_parse_ports(o.ports, ports, 64, &n_ports, err, sizeof err) < 0)
        return false;
    return summary_plan(&o, ports, n_ports, targets, records);
}

static void test_plan(void)
{
    uint64_t t, r;
    char *a1[] = {"s", "127.0.0.0/8"};
    CHECK(plan(2, a1, &t, &r) && t == 16777216 && r == 16777216ull * 7);
    char *a2[] = {"s", "-p", "25,587", "127.0.0.0/30", "127.0.0.9:25", "# c", "bad target!"};
    CHECK(plan(7, a2, &t, &r) && t == 5 && r == 4 * 2 + 1);
    /* shards: 4 + 3 + 1 items numbered 0..7; shard 1 of 3 owns 1, 4, 7 */
    char *a3[] = {"s",         "--shards", "3", "--shard", "1", "-p", "25", "127.0.0.0/30", "127.1.0.0/31",
                  "127.2.0.1", "127.3.0.1"};
    CHECK(plan(11, a3, &t, &r) && t == 3 && r == 3);
    char *a4[] = {"s",         "--shards", "3", "--shard", "2", "-p", "25", "127.0.0.0/30", "127.1.0.0/31",
                  "127.2.0.1", "127.3.0.1"};
    CHECK(plan(11, a4, &t, &r) && t == 2 && r == 2);
    char *a5[] = {"s", "-p", "25", "mx.example.org"}; /* no resolver: one local-error record per port */
    CHECK(plan(4, a5, &t, &r) && t == 1 && r == 1);
    char *a6[] = {"s", "--resolver", "127.0.0.1", "mx.example.org"};
    CHECK(!plan(4, a6, &t, &r));
    char *a7[] = {"s", "127.0.0.1", "-"};
    CHECK(!plan(3, a7, &t, &r));
    char *a8[] = {"s", "-i", "/dev/null", "127.0.0.1"};
    CHECK(!plan(4, a8, &t, &r));
    char *a9[] = {"s"};
    CHECK(!plan(1, a9, &t, &r));
    char *a10[] = {"s", "-p", "25", "2001:db8::/96"};
    CHECK(plan(4, a10, &t, &r) && t == 4294967296ull && r == t);
}

static bool starts_with(const char *s, const char *prefix)
{
    return strncmp(s, prefix, strlen(prefix)) == 0;
}

static void test_texts(void)
{
    char buf[256];
    summary_format_duration(42, buf, sizeof buf);
    CHECK(strcmp(buf, "42 seconds") == 0);
    summary_format_duration(600, buf, sizeof buf);
    CHECK(strcmp(buf, "10 minutes") == 0);
    summary_format_duration(117440.512, buf, sizeof buf);
    CHECK(strcmp(buf, "32.6 hours") == 0);
    summary_format_duration(16777216.0 / 20, buf, sizeof buf);
    CHECK(strcmp(buf, "9.7 days") == 0);
    summary_plan_line(buf, sizeof buf, 16777216, 7, 117440512, 1000);
    CHECK(starts_with(
        buf, "16,777,216 targets x 7 ports = 117,440,512 probes, at --rate 1000 at least 32.6 hours"));
    summary_plan_line(buf, sizeof buf, 1048576, 1, 1048576, 0);
    CHECK(starts_with(buf, "1,048,576 targets x 1 port = 1,048,576 probes, with no --rate limit"));

    char *argv[] = {"mailtls-scan", "-o", "my scan.json", "--ehlo-name", "it's", "-p",
                    "25",           "",   "127.0.0.0/24"};
    char *cmd = summary_resume_command(9, argv);
    CHECK(
        cmd &&
        strcmp(cmd, "mailtls-scan -o 'my scan.json' --ehlo-name 'it'\\''s' -p 25 '' 127.0.0.0/24 --resume") ==
            0);
    free(cmd);
    char *again[] = {"./mailtls-scan", "--resume", "-o", "a.json", "127.0.0.1"};
    cmd = summary_resume_command(5, again);
    CHECK(cmd && strcmp(cmd, "./mailtls-scan --resume -o a.json 127.0.0.1") == 0);
    free(cmd);
    char *dashes[] = {"mailtls-scan", "-o", "a.json", "--", "--resume"}; /* a target named --resume */
    cmd = summary_resume_command(5, dashes);
    CHECK(cmd && strcmp(cmd, "mailtls-scan -o a.json --resume -- --resume") == 0);
    free(cmd);
}

static void test_exit_status(void)
{
    char *argv[] = {"mailtls-scan", "-q", "-o", "x.json", "127.0.0.1"};
    struct options o;
    CHECK(parse(&o, 5, argv) == 0);
    struct summary *s = summary_new(&o, 5, argv);
    struct summary_end e = {.input_read = true, .argc = 5, .argv = argv};
    CHECK(summary_exit_status(s, &e) == SUMMARY_EXIT_COMPLETE);
    e.signal = SIGINT; /* after the last record: nothing is missing */
    CHECK(summary_exit_status(s, &e) == SUMMARY_EXIT_COMPLETE);
    e.input_read = false;
    CHECK(summary_exit_status(s, &e) == SUMMARY_EXIT_INCOMPLETE);
    e.signal = 0;
    e.input_read = true;
    e.malformed = 1;
    CHECK(summary_exit_status(s, &e) == SUMMARY_EXIT_INCOMPLETE);
    e.malformed = 0;
    e.unresolved = 7;
    CHECK(summary_exit_status(s, &e) == SUMMARY_EXIT_INCOMPLETE);
    static struct record r;
    rec_reset(&r);
    rec_set_int(&r, F_PORT, 25);
    rec_set_status(&r, STATUS_INTERRUPTED);
    summary_count(s, &r);
    e.unresolved = 0;
    e.signal = SIGTERM;
    CHECK(summary_exit_status(s, &e) == SUMMARY_EXIT_INCOMPLETE);
    summary_free(s);
}

int main(void)
{
    char dir[] = "/tmp/mailtls-summary-XXXXXX";
    if (!mkdtemp(dir))
        return 1;
    test_rec_int_unset();
    test_ports_in_metadata(dir);
    test_default_threads();
    test_plan();
    test_texts();
    test_exit_status();
    rmdir(dir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
