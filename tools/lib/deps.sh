# Sourced by tools/check and tools/demo: the Debian 12 packages shiplog needs, and
# one function that installs the missing ones (as root) or names them (otherwise).

# Build: compiler, meson, the libraries the code links.
SHIPLOG_BUILD_PKGS="gcc libc6-dev meson ninja-build pkg-config python3 libdpdk-dev liburing-dev libsodium-dev libjansson-dev libinih-dev libmicrohttpd-dev systemtap-sdt-dev"
# Tests: cmocka, clang with its sanitizer and libFuzzer runtimes, the format check,
# and iproute2 for the namespace-based integration suite.
SHIPLOG_TEST_PKGS="libcmocka-dev clang libclang-rt-14-dev clang-format iproute2"

# shiplog_missing_pkgs PKG...: prints the ones dpkg does not have installed.
shiplog_missing_pkgs() {
	local p missing=""
	for p in "$@"; do
		if [ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" != installed ]; then
			missing="$missing $p"
		fi
	done
	echo "${missing# }"
}

# shiplog_ensure_pkgs WHO PKG...: installs what is missing, or explains and fails.
shiplog_ensure_pkgs() {
	local who=$1
	shift
	local missing
	if ! command -v dpkg-query >/dev/null 2>&1; then
		echo "$who: this is not a Debian system; install by hand: $*" >&2
		return 1
	fi
	missing=$(shiplog_missing_pkgs "$@")
	[ -z "$missing" ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "$who: missing Debian packages: $missing" >&2
		echo "$who: run as root to install them, or: sudo apt-get install $missing" >&2
		return 1
	fi
	echo "$who: installing $missing"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -q >/dev/null || { echo "$who: apt-get update failed" >&2; return 1; }
	# shellcheck disable=SC2086
	apt-get install -y -q --no-install-recommends $missing >/dev/null ||
		{ echo "$who: apt-get install failed for: $missing" >&2; return 1; }
	missing=$(shiplog_missing_pkgs "$@")
	if [ -n "$missing" ]; then
		echo "$who: still missing after install: $missing" >&2
		return 1
	fi
}
