# Sourced by boards/mbedtls-source.sh and boards/qemu-backports.sh: apt-get
# against one extra Debian suite through a private setup under a folder of
# ours; the system's apt sources, lists and packages are never touched.
#   private_apt_init DIR "deb|deb-src" SUITE   writes DIR/sources.list, runs update
#   private_apt DIR ARGS...                    apt-get ARGS... with that setup
# Both print nothing; private_apt_init returns 1 (and says why) when it cannot start.

private_apt_init() {
    command -v apt-get >/dev/null 2>&1 || { echo "gust: fetching from Debian needs apt-get" >&2; return 1; }
    # The host the system already uses for Debian (deb.debian.org unless configured otherwise).
    pa_mirror=$(cat /etc/apt/sources.list /etc/apt/sources.list.d/*.list /etc/apt/sources.list.d/*.sources 2>/dev/null |
        grep -v '^[[:space:]]*#' | grep -oE 'https?://[^ ]*/debian/?( |$)' | head -n 1 | tr -d ' ')
    pa_mirror=${pa_mirror:-http://deb.debian.org/debian}
    rm -rf "$1"
    mkdir -p "$1/lists/partial" "$1/cache/archives/partial" || return 1
    pa_keyring=/usr/share/keyrings/debian-archive-keyring.gpg
    [ -f "$pa_keyring" ] || {
        echo "gust: no $pa_keyring to check $3's signature (apt-get install debian-archive-keyring)" >&2
        return 1
    }
    echo "$2 [signed-by=$pa_keyring] ${pa_mirror%/} $3 main" >"$1/sources.list"
    echo "gust: fetching from ${pa_mirror%/} $3" >&2
    # update can exit non-zero while some index is mid-sync; the download then says what is really missing.
    private_apt "$1" update >"$1/update.log" 2>&1 || echo "gust: apt-get update reported errors; trying anyway" >&2
    return 0
}

private_apt() {
    pa_dir=$1
    shift
    apt-get -q -o Dir::Etc::SourceList="$pa_dir/sources.list" -o Dir::Etc::SourceParts=/dev/null \
        -o Dir::State::Lists="$pa_dir/lists" -o Dir::Cache="$pa_dir/cache" \
        -o Dir::Cache::pkgcache= -o Dir::Cache::srcpkgcache= -o APT::Sandbox::User="$(id -un)" "$@"
}
