#!/usr/bin/env bash
# `make scale`: a 3-member ovsdb-server Raft cluster (scripts/ovsdb_cluster.py), then
# `nvgre-ovsdb scale` against it: SCALE_HOSTS agents, SCALE_RECORDS lookup records in
# SCALE_DOMAINS routing domains, SCALE_CHANGES changes, the leader killed halfway
# (examples/nvgre-ovsdb/scale.hpp says what is measured). The cluster is stopped and its
# directory removed at the end, whatever happened. The last line is the scale line:
#   scale: H hosts, R records, change to all concerned hosts p50 A ms p99 B ms; failover: C ms, D hosts behind; E hosts differ
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${NVGRE_OVSDB:-build/demo/examples/nvgre-ovsdb/nvgre-ovsdb}
dir=${SCALE_DIR:-build/scale}
cluster="$dir/cluster"
mkdir -p "$dir"
scripts/ovsdb_cluster.py stop "$cluster"
remotes=$(scripts/ovsdb_cluster.py start "$cluster")
trap 'scripts/ovsdb_cluster.py stop "$cluster"' EXIT
"$bin" scale --remote "$remotes" --hosts "${SCALE_HOSTS:-1000}" --domains "${SCALE_DOMAINS:-200}" \
  --records "${SCALE_RECORDS:-100000}" --changes "${SCALE_CHANGES:-120}" \
  --kill-leader "scripts/ovsdb_cluster.py kill-leader $cluster"
