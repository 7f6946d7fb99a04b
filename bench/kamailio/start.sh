#!/bin/sh
# Start Kamailio 5.6 for the benchmark on loopback, in the background; prints its PID.
#   start.sh WORKDIR PKI_DIR ADDR PORT NUSERS PASSWORD [CPUS]
# WORKDIR gets tls.cfg, the SQLite database (Kamailio's own schema from the package, users
# user0..user(NUSERS-1) @localhost with PASSWORD) and kamailio.log. CPUS pins it (taskset -c).
# Environment: KAMAILIO (binary), KAM_SHM_MB (shared memory, default 3072), KAM_PKG_MB (8),
# KAM_TCP_CHILDREN (1, see kamailio.cfg), KAM_LOADER (a program that runs Kamailio on another
# OpenSSL: bench/openssl-root.sh's DIR/loader), KAM_UL_DB_MODE (usrloc db_mode, default 0:
# bindings in memory; 1: written through to the SQLite database, in WAL mode as sipsd's).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
work=$1 pki=$2 addr=$3 port=$4 nusers=$5 password=$6 cpus=${7:-}
kamailio=${KAMAILIO:-$(command -v kamailio || echo /usr/sbin/kamailio)}
schema=${KAM_SCHEMA_DIR:-/usr/share/kamailio/db_sqlite}
mpath=${KAM_MPATH:-/usr/lib/x86_64-linux-gnu/kamailio/modules/}
mkdir -p "$work"
work=$(cd "$work" && pwd)
pki=$(cd "$pki" && pwd)

for f in standard-create.sql auth_db-create.sql usrloc-create.sql; do
	[ -r "$schema/$f" ] || { echo "start.sh: $schema/$f missing (kamailio-sqlite-modules?)" >&2; exit 1; }
done
rm -f "$work/kamailio.db"
{
	cat "$schema/standard-create.sql" "$schema/auth_db-create.sql" "$schema/usrloc-create.sql"
	# HA1 stored, as sipsd stores it (auth_db calculate_ha1=no): no MD5 of the password per request
	python3 -c 'import hashlib, sys
n, pw = int(sys.argv[1]), sys.argv[2]
print("BEGIN;")
for i in range(n):
    ha1 = hashlib.md5(("user%d:localhost:%s" % (i, pw)).encode()).hexdigest()
    print("INSERT INTO subscriber (username, domain, password, ha1) VALUES (\x27user%d\x27, \x27localhost\x27, \x27%s\x27, \x27%s\x27);" % (i, pw, ha1))
print("COMMIT;")' "$nusers" "$password"
} | sqlite3 "$work/kamailio.db"

sed "s|@PKI@|$pki|g" "$here/tls.cfg.in" > "$work/tls.cfg"

ul_mode=${KAM_UL_DB_MODE:-0}
set -- -A "UL_DB_MODE=$ul_mode"
if [ "$ul_mode" != 0 ]; then
	set -- "$@" -A "DB_JOURNAL=\"$work/kamailio.db=WAL;\""
fi

pin=""
[ -n "$cpus" ] && pin="taskset -c $cpus"
# -DD: the creator stays in the foreground of this background job (its children are the
# workers), so the PID we print is the root of the process tree sipsbench samples.
$pin ${KAM_LOADER:-} "$kamailio" -f "$here/kamailio.cfg" -DD -E -x "${KAM_MEM_MANAGER:-tlsf}" -m "${KAM_SHM_MB:-3072}" -M "${KAM_PKG_MB:-8}" \
	-A "LISTEN_ADDR=tls:$addr:$port" -A "TLS_CFG=\"$work/tls.cfg\"" \
	-A "DB_URL=\"sqlite:///$work/kamailio.db\"" -A "MPATH=\"$mpath\"" \
	-A "TCP_CHILDREN=${KAM_TCP_CHILDREN:-1}" "$@" >"$work/kamailio.log" 2>&1 &
pid=$!
i=0
while [ $i -lt 100 ]; do
	if ! kill -0 "$pid" 2>/dev/null; then
		echo "start.sh: kamailio exited; see $work/kamailio.log" >&2
		tail -20 "$work/kamailio.log" >&2
		exit 1
	fi
	if ss -Hltn "sport = :$port" 2>/dev/null | grep -q "$addr:$port"; then
		echo "$pid"
		exit 0
	fi
	sleep 0.1
	i=$((i + 1))
done
echo "start.sh: kamailio did not listen on $addr:$port within 10 s" >&2
kill "$pid" 2>/dev/null || true
exit 1
