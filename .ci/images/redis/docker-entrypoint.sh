#!/bin/sh
# The official image builds Redis with protected mode off (a container's clients never come from loopback)
# and runs it as the redis user; Debian's build keeps it on, so it is turned off here unless asked for.
set -eu
case "${1:-}" in
  -* | *.conf) set -- redis-server "$@" ;;
esac
if [ "${1:-}" = redis-server ]; then
  case "$*" in
    *protected-mode*) ;;
    *) set -- "$@" --protected-mode no ;;
  esac
  [ "$(id -u)" = 0 ] && exec setpriv --reuid=redis --regid=redis --init-groups "$@"
fi
exec "$@"
