/*
 * test_resume_prepare.c - scanner/resume.c on crafted earlier outputs:
 * which records are kept, which targets count as done (probe jobs, name
 * failures, --mx domains only when every listed address is done on every
 * port), the rewrite (interrupted, duplicate and unfinished domain records
 * dropped, a torn last line cut), and a file in the other format refused.
 */
#include "../../output/writer.h"
#include "../../scanner/conn.h"
#include "../../scanner/resume.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"

static char tmpdir[] = "/tmp/test_resume_prepare.XXXXXX";

static const char earlier[] =
    "{\"ip\":\"192.0.2.1\",\"port\":25,\"host\":\"mx.d1.test\",\"domain\":\"d1.test\",\"protocol\":\"smtp\","
    "\"tls_mode\":\"starttls\",\"status\":\"ok\"}\n"
    "{\"ip\":\"192.0.2.2\",\"port\":25,\"host\":null,\"protocol\":\"smtp\",\"tls_mode\":\"starttls\","
    "\"status\":\"interrupted\"}\n"
    "{\"ip\":\"192.0.2.9\",\"port\":25,\"host\":null,\"protocol\":\"smtp\",\"tls_mode\":\"starttls\","
    "\"status\":\"duplicate\"}\n"
    "{\"ip\":null,\"port\":null,\"domain\":\"d1.test\",\"mx\":[\"10 mx.d1.test 192.0.2.1\","
    "\"20 gone.d1.test dns-nxdomain\"],\"status\":\"resolved\"}\n"
    "{\"ip\":null,\"port\":null,\"domain\":\"d2.test\",\"mx\":[\"10 mx.d2.test 192.0.2.3\"],"
    "\"status\":\"resolved\"}\n"
    "{\"ip\":null,\"port\":25,\"host\":\"n.test\",\"protocol\":\"smtp\",\"tls_mode\":\"starttls\","
    "\"status\":\"dns-nxdomain\"}\n"
    "{\"ip\":\"192.0.2.4\",\"port\":25,\"host\":\"sni.test\",\"protocol\":\"smtp\",\"tls_mode\":\"starttls\","
    "\"status\":\"blocklisted\"}\n"
    "{\"ip\":\"192.0.2.5\",\"port\":25,\"host\":null,\"proto"; /* killed mid-line */

static struct job job_for(const char *ip, const char *host, const char *domain)
{
    struct job j;
    memset(&j, 0, sizeof j);
    struct sockaddr_in *sin = (struct sockaddr_in *)&j.addr;
    sin->sin_family = AF_INET;
    inet_pton(AF_INET, ip, &sin->sin_addr);
    j.port = (struct tgt_port){.port = 25, .proto = PROTO_SMTP, .mode = TLS_MODE_STARTTLS};
    snprintf(j.host, sizeof j.host, "%s", host);
    snprintf(j.domain, sizeof j.domain, "%s", domain);
    return j;
}

/* A file of only final records comes out of the rewrite byte for byte
 * (CSV rows end in CRLF; gzip is compared decompressed, via the reader). */
static void test_unchanged(bool csv)
{
    char path[300], err[512];
    static char before[1 << 16], after[1 << 16];
    struct tgt_port ports[1] = {{.port = 25, .proto = PROTO_SMTP, .mode = TLS_MODE_STARTTLS}};
    struct resume_counts c;
    struct out_options o = {.format = csv ? OUT_CSV : OUT_JSON};
    static struct record r;

    snprintf(path, sizeof path, "%s/same.%s", tmpdir, csv ? "csv" : "json");
    struct out_writer *w = out_open(path, &o, err, sizeof err);
    CHECK(w != NULL);
    if (!w)
        return;
    for (int i = 1; i <= 3; i++) {
        char ip[32];
        snprintf(ip, sizeof ip, "192.0.2.%d", i);
        rec_reset(&r);
        rec_set_str(&r, F_IP, ip);
        rec_set_int(&r, F_PORT, 25);
        rec_set_str(&r, F_PROTOCOL, "smtp");
        rec_set_str(&r, F_TLS_MODE, "starttls");
        rec_set_status(&r, STATUS_OK);
        rec_set_text(&r, F_BANNER, "220 a\r\nb\x00\xff", 10);
        CHECK(out_write(w, &r) == 0);
    }
    CHECK(out_close(w) == 0);
    FILE *f = fopen(path, "rb");
    size_t n1 = f ? fread(before, 1, sizeof before, f) : 0;
    if (f)
        fclose(f);
    struct resume_set *s = resume_prepare(path, csv, ports, 1, err, sizeof err, &c);
    CHECK(s && c.kept == 3 && !c.torn);
    resume_free(s);
    f = fopen(path, "rb");
    size_t n2 = f ? fread(after, 1, sizeof after, f) : 0;
    if (f)
        fclose(f);
    CHECK(n1 > 0 && n1 == n2 && memcmp(before, after, n1) == 0);
}

int main(void)
{
    char path[300], err[512], buf[4096];
    struct tgt_port ports[1] = {{.port = 25, .proto = PROTO_SMTP, .mode = TLS_MODE_STARTTLS}};
    struct resume_counts c;

    if (!mkdtemp(tmpdir))
        return 2;
    snprintf(path, sizeof path, "%s/earlier.json", tmpdir);
    FILE *f = fopen(path, "w");
    if (!f || fwrite(earlier, 1, sizeof earlier - 1, f) != sizeof earlier - 1)
        return 2;
    fclose(f);

    CHECK(resume_prepare(path, true, ports, 1, err, sizeof err, &c) == NULL &&
          strstr(err, "--format is csv"));
    struct resume_set *s = resume_prepare(path, false, ports, 1, err, sizeof err, &c);
    CHECK(s != NULL);
    if (!s) {
        fprintf(stderr, "%s\n", err);
        return 1;
    }
    CHECK(c.kept == 4 && c.redo == 2 && c.duplicate == 1 && c.torn);

    struct job j = job_for("192.0.2.1", "mx.other.test", "d9.test"); /* --mx: any exchanger, any domain */
    CHECK(resume_done_job(s, &j));
    j = job_for("192.0.2.1", "other.test", ""); /* an "ip,name" line: the name is part of the target */
    CHECK(!resume_done_job(s, &j));
    j = job_for("192.0.2.2", "", "");
    CHECK(!resume_done_job(s, &j)); /* interrupted: redo */
    j = job_for("192.0.2.9", "", "");
    CHECK(!resume_done_job(s, &j)); /* duplicate records do not make a target done */
    j = job_for("192.0.2.4", "sni.test", "");
    CHECK(resume_done_job(s, &j));
    j = job_for("192.0.2.4", "SNI.test", "");
    CHECK(resume_done_job(s, &j)); /* names compare without case */
    j = job_for("192.0.2.4", "sni.test", "");
    j.port.mode = TLS_MODE_IMPLICIT;
    CHECK(!resume_done_job(s, &j));
    CHECK(resume_done_name(s, "n.test", &ports[0]));
    CHECK(!resume_done_name(s, "m.test", &ports[0]));
    CHECK(resume_done_domain(s, "d1.test"));
    CHECK(!resume_done_domain(s, "d2.test")); /* 192.0.2.3 never probed */

    /* the rewritten file: exactly the kept lines, in order, no torn end */
    f = fopen(path, "r");
    size_t n = f ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f)
        fclose(f);
    buf[n] = '\0';
    int lines = 0;
    for (size_t i = 0; i < n; i++)
        lines += buf[i] == '\n';
    CHECK(lines == 4 && n > 0 && buf[n - 1] == '\n');
    CHECK(strstr(buf, "\"d1.test\",\"mx\"") && !strstr(buf, "d2.test") && !strstr(buf, "interrupted") &&
          !strstr(buf, "duplicate") && !strstr(buf, "192.0.2.5"));
    resume_free(s);

    /* resuming the rewritten file again changes nothing */
    s = resume_prepare(path, false, ports, 1, err, sizeof err, &c);
    CHECK(s && c.kept == 4 && c.redo == 0 && c.duplicate == 0 && !c.torn);
    resume_free(s);

    test_unchanged(false);
    test_unchanged(true);

    snprintf(buf, sizeof buf, "rm -rf %s", tmpdir);
    if (system(buf) != 0)
        fprintf(stderr, "could not remove %s\n", tmpdir);
    printf("%d passed, %d failed\n", passed, failed);
    return failed ? 1 : 0;
}
