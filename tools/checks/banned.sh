#!/bin/sh
# Fails when C sources use functions banned for being unbounded or unsafe (curl's habit).
# Use snprintf/memcpy with explicit sizes, strtoul with end checks, strtok_r never (slices instead).
top=${1:-.}
cd "$top" || exit 2
hits=$(grep -rnE '\b(strcpy|strcat|sprintf|vsprintf|strtok|atoi|atol|atoll|gets|strncpy)[[:space:]]*\(' \
	--include='*.c' --include='*.h' src tools tests bench 2>/dev/null | grep -vE '^\S+:[0-9]+:\s*(/\*|\*)')
if [ -n "$hits" ]; then
	echo "banned functions in use:"
	echo "$hits"
	exit 1
fi
echo "banned-function check: clean"
