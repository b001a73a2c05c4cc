#!/bin/sh
# Merges the gzip CSV files of the shards of one scan into one gzip CSV with
# one header row: the first file whole, the others without their header.
# (NDJSON shards need no recipe: `cat part-*.json.gz > all.json.gz` is a valid
# gzip file, and mailtls-stats reads any number of files of either format.)
# usage: sh merge-csv.sh OUT.csv.gz PART.csv.gz...
set -eu
out=$1
shift
first=$1
shift
{
  gzip -dc "$first"
  for f in "$@"; do gzip -dc "$f" | tail -n +2; done
} | gzip > "$out.tmp"
mv "$out.tmp" "$out"
