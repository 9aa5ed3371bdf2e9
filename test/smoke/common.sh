# SPDX-License-Identifier: BSD-3-Clause
# Copyright(c) 2026 The vmbus-srv authors
#
# Sourced by the smoke scripts (". "$(dirname "$0")/common.sh"" after
# setting SMOKE_NAME): check bookkeeping, bounded waits, vmbus-srvd's exit
# summary, and the -d plugin rule. POSIX sh.

pass=0
fail=0
smoke_failed=

ok() {
	echo "$SMOKE_NAME: ok: $1"
	pass=$((pass + 1))
}

ko() {
	echo "$SMOKE_NAME: FAILED: $1"
	fail=$((fail + 1))
	smoke_failed="$smoke_failed
$SMOKE_NAME: FAILED: $1"
}

info() {
	echo "$SMOKE_NAME: $1"
}

# The verdict, last: failed checks again (after any log tails, where a CI
# summary that keeps only the end still shows them), then "N passed, N
# failed"; the status is 0 only without failures.
smoke_end() {
	[ -n "$smoke_failed" ] && printf '%s\n' "$smoke_failed" | sed 1d
	echo "$pass passed, $fail failed"
	[ "$fail" = 0 ]
}

# Wait (bounded: $3 tenths of a second) until file $1 contains $2.
wait_for() {
	i=0
	while ! grep -q -- "$2" "$1" 2>/dev/null; do
		[ $i -ge "$3" ] && return 1
		sleep 0.1
		i=$((i + 1))
	done
	return 0
}

# Wait (bounded: $2 tenths of a second) for child $1 to end; its exit
# status, or 124 after killing it when the time is up.
wait_pid() {
	i=0
	while kill -0 "$1" 2>/dev/null; do
		if [ $i -ge "$2" ]; then
			kill -9 "$1" 2>/dev/null
			wait "$1"
			return 124
		fi
		sleep 0.1
		i=$((i + 1))
	done
	wait "$1"
}

# testpmd driven through a fifo on fd $1: an unknown command it echoes
# back ("mark_$2") is a section marker in its log.
mark() {
	echo "mark_$2" >&"$1"
}

# First "KEY: N" in testpmd log $1 after marker $2 (and after a line
# containing $4 if given), up to the next marker; waits up to 20 s, since
# under load testpmd's output lags its commands. 0 if never printed.
stat_wait() {
	i=0
	while :; do
		v=$(awk -v mark="mark_$2" -v key="$3:" -v anchor="${4:-}" '
			index($0, "mark_") { on = index($0, mark) > 0; seen = anchor == ""; next }
			on && !seen && index($0, anchor) { seen = 1; next }
			on && seen && v == "" { for (i = 1; i < NF; i++) if ($i == key) { v = $(i + 1); break } }
			END { print v }' "$1")
		if [ -n "$v" ] || [ $i -ge 200 ]; then
			echo "${v:-0}"
			return
		fi
		sleep 0.1
		i=$((i + 1))
	done
}

# Count of lines containing $3 in log $1 after marker $2.
count_after() {
	awk -v mark="mark_$2" -v s="$3" '
		index($0, "mark_") { on = index($0, mark) > 0; next }
		on && index($0, s) { n++ }
		END { print n + 0 }' "$1"
}

# vmbus-srvd's exit summary: the value of key $3 on port section $1's line
# of kind $2 (frames, dropped, pmd, offloads, queues), from log $4
# (default $slog).
sv() {
	awk -v sec="[$1]" -v kind="$2" -v key="$3" '
		$1 == "vmbus-srvd:" && $2 == "port" && $4 == sec {
			k = $5 ~ /^(dropped|pmd|offloads|queues):$/ ? substr($5, 1, length($5) - 1) : "frames"
			if (k != kind) next
			for (i = 6; i < NF; i++) if ($i == key) { print $(i + 1); exit }
		}' "${4:-$slog}"
}

# EAL refuses a -d plugin if any ancestor directory is world-writable
# (CI's clone may live under /tmp): set $so to where plugin $1 can be
# loaded from, a private copy in $plugdir when needed (the caller's
# cleanup removes $plugdir).
smoke_plugin() {
	so=$1
	d=$(dirname "$(readlink -f "$1")")
	while [ "$d" != / ]; do
		if [ -n "$(find "$d" -maxdepth 0 -perm -0002 2>/dev/null)" ]; then
			base=${XDG_RUNTIME_DIR:-}
			if [ -z "$base" ] || [ ! -d "$base" ]; then
				if [ "$(id -u)" = 0 ]; then base=/run; else base=$HOME; fi
			fi
			plugdir=$(mktemp -d "$base/vmbs-plugin.XXXXXX")
			chmod 700 "$plugdir"
			cp "$1" "$plugdir/"
			so="$plugdir/$(basename "$1")"
			info "plugin copied to $so (its directory has a world-writable ancestor)"
			return
		fi
		d=$(dirname "$d")
	done
}
