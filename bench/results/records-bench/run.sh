# How the JSON files here were made (2026-12-04 09:17-09:18 UTC, quiet machine):
# /tmp/records-bench-before is zoneproxy-records-bench built at 0376424 (the record layer
# driven as a plain AEAD), /tmp/records-bench-after the same source with the TLS-mode
# record_cipher; one RelWithDebInfo build tree, 5 rounds, the order alternating.
for r in 1 2 3 4 5; do for v in before after; do
  [ $((r%2)) = 0 ] && v=$([ $v = before ] && echo after || echo before)
  /tmp/records-bench-$v --benchmark_min_time=0.5 --benchmark_format=json > $v-$r.json
done; done
