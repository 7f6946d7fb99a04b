#!/bin/sh
# Fetch a newer Debian release's OpenSSL (and the C library it needs) into DIR, for
# `BENCH_OPENSSL_ROOT=DIR make bench`, which then runs both servers on it.
#   bench/openssl-root.sh DIR [SUITE]        (SUITE: trixie, i.e. Debian 13 with OpenSSL 3.5)
# Nothing is installed: apt-get downloads libssl3t64, libc6 and openssl with a private
# package list (signatures checked with the system's Debian archive keyring), and dpkg-deb
# unpacks them under DIR. The mirror is the one this system's apt sources name. Programs
# use DIR only through its dynamic loader (DIR/loader), which puts DIR's libraries first.
set -eu
dir=${1:?usage: openssl-root.sh DIR [SUITE]}
suite=${2:-trixie}
arch=$(dpkg --print-architecture)
triplet=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
mirror=$(awk '/^URIs:/ { print $2; exit }' /etc/apt/sources.list.d/debian.sources 2>/dev/null || true)
[ -n "$mirror" ] || mirror=$(awk '$1 == "deb" && $0 !~ /security/ { print $2; exit }' /etc/apt/sources.list 2>/dev/null || true)
[ -n "$mirror" ] || { echo "openssl-root: no Debian mirror in /etc/apt sources" >&2; exit 1; }

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
apt=$dir/apt
rm -rf "$apt"
mkdir -p "$apt/parts" "$apt/lists/partial" "$apt/cache/archives/partial" "$apt/debs"
cat >"$apt/parts/$suite.sources" <<EOF
Types: deb
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
set -- -q -o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$apt/parts" \
	-o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o Dir::State::status=/dev/null \
	-o "APT::Architecture=$arch" -o APT::Sandbox::User=root
apt-get "$@" update >/dev/null
(cd "$apt/debs" && apt-get "$@" download libssl3t64 libc6 openssl >/dev/null)
for deb in "$apt/debs"/*.deb; do
	dpkg-deb -x "$deb" "$dir/root"
done
lib=$dir/root/usr/lib/$triplet
ld=$(ls "$lib"/ld-linux*.so.* 2>/dev/null | head -1)
[ -x "$ld" ] || { echo "openssl-root: no dynamic loader in $lib" >&2; exit 1; }
# DIR/loader PROGRAM ARGS...: PROGRAM with DIR's C library and OpenSSL, the system's other libraries
cat >"$dir/loader" <<EOF
#!/bin/sh
exec "$ld" --library-path "$lib:/usr/lib/$triplet:/lib/$triplet" "\$@"
EOF
chmod +x "$dir/loader"
rm -rf "$apt"
"$dir/loader" "$dir/root/usr/bin/openssl" version
