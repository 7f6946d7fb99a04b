#!/bin/sh
# Fails when a file in src/ includes a header from a higher layer (docs/architecture.md).
# Layers: base 0; auth sip sdp conf 1; tls store 2; transport 3; txn 4; registrar proxy 5; mgmt 6; app 7.
top=${1:-.}
cd "$top/src" || exit 2
level() {
	case $1 in
	base) echo 0 ;; auth|sip|sdp|conf) echo 1 ;; tls|store) echo 2 ;; transport) echo 3 ;;
	txn) echo 4 ;; registrar|proxy) echo 5 ;; mgmt) echo 6 ;; app) echo 7 ;; *) echo 99 ;;
	esac
}
bad=0
for f in $(find . -name '*.[ch]' | sort); do
	mod=$(echo "$f" | cut -d/ -f2)
	ml=$(level "$mod")
	[ "$ml" = 99 ] && { echo "$f: module '$mod' has no layer; add it to tools/checks/layering.sh"; bad=1; continue; }
	for inc in $(sed -n 's/^[[:space:]]*#[[:space:]]*include[[:space:]]*"\([a-z_]*\)\/.*/\1/p' "$f" | sort -u); do
		il=$(level "$inc")
		if [ "$il" -gt "$ml" ]; then
			echo "src/${f#./}: layer $ml ($mod) includes \"$inc/...\" from layer $il"
			bad=1
		fi
	done
done
[ $bad = 0 ] && echo "layering check: clean"
exit $bad
