#!/bin/sh
# Installs the Debian 12 packages a make target needs, when they are missing.
#   tests/deps.sh build|run|test|ci|bench
# As root it runs apt-get; otherwise it names the missing packages and the command, and fails.
set -eu
what=${1:-build}
pkgs="pkg-config libmicrohttpd-dev libcurl4-openssl-dev libjansson-dev libhiredis-dev zlib1g-dev libbrotli-dev libpcre2-dev"
case "$what" in
build | run) ;;
test) pkgs="$pkgs redis-server curl perl" ;;
ci) pkgs="$pkgs redis-server curl perl clang-format" ;;
bench) pkgs="$pkgs curl perl nginx-light wrk" ;;
*) echo "usage: tests/deps.sh build|run|test|ci|bench" >&2; exit 2 ;;
esac

missing=""
for p in $pkgs; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing="$missing $p"
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" -ne 0 ]; then
    echo "sigmaproxy: missing packages:$missing" >&2
    echo "sigmaproxy: install them with: sudo apt-get install -y$missing" >&2
    exit 1
fi
echo "sigmaproxy: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
# The lists may be absent on a fresh machine: update once, then retry the install.
apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 ||
    { apt-get update -q >/dev/null && apt-get install -y -q --no-install-recommends $missing >/dev/null; }
# Debian starts services it installs where it can; tests start their own, so stop the system ones.
for svc in redis-server nginx; do
    case "$missing" in *"$svc"*|*nginx*) command -v service >/dev/null 2>&1 && service "$svc" stop >/dev/null 2>&1 || true ;; esac
done
