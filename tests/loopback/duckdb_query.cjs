// duckdb_query.cjs - runs SQL in DuckDB (the real engine, npm @duckdb/node-api)
// for tests/loopback/test_ndjson_consumers.py.
// stdin: {"setup": ["SQL", ...], "queries": {"name": "SQL", ...}}
// stdout: {"name": [row objects as JSON], ...}; any error exits 1 with the
// message on stderr (the test then fails: it never skips DuckDB).
'use strict';
const { DuckDBInstance } = require('@duckdb/node-api');

async function main() {
  let input = '';
  for await (const chunk of process.stdin) input += chunk;
  const job = JSON.parse(input);
  const inst = await DuckDBInstance.create(':memory:');
  const conn = await inst.connect();
  for (const sql of job.setup || []) await conn.run(sql);
  const out = {};
  for (const [name, sql] of Object.entries(job.queries)) {
    const reader = await conn.runAndReadAll(sql);
    out[name] = reader.getRowObjectsJson();
  }
  process.stdout.write(JSON.stringify(out) + '\n');
}

main().catch((e) => {
  process.stderr.write('duckdb: ' + e.message + '\n');
  process.exit(1);
});
