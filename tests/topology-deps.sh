#!/usr/bin/env bash
# Installs from Debian what the topology tests (tests/topology_*.py) need, when missing.
# Idempotent: a second run installs nothing. The tests start their own server processes
# on spare loopback ports, so the packages' own system services are stopped and disabled.
set -euo pipefail

if [ "$(id -u)" -eq 0 ]; then SUDO=(); else SUDO=(sudo); fi

missing=()
command -v pgbouncer >/dev/null 2>&1 || missing+=(pgbouncer)
command -v mariadbd >/dev/null 2>&1 || [ -x /usr/sbin/mariadbd ] || missing+=(mariadb-server)
[ -e /usr/lib/galera/libgalera_smm.so ] || missing+=(galera-4)
command -v rsync >/dev/null 2>&1 || missing+=(rsync)
if [ "${#missing[@]}" -gt 0 ]; then
    "${SUDO[@]}" apt-get update -qq
    DEBIAN_FRONTEND=noninteractive "${SUDO[@]}" apt-get install -y -qq "${missing[@]}"
fi

# The package's own pgbouncer (port 6432) must not run: stop it if the install started it
# and keep it from starting at boot. Every step may fail harmlessly (no systemd, no service).
if [ -d /run/systemd/system ]; then
    "${SUDO[@]}" systemctl disable --now pgbouncer.service >/dev/null 2>&1 || true
elif command -v systemctl >/dev/null 2>&1; then
    "${SUDO[@]}" systemctl disable pgbouncer.service >/dev/null 2>&1 || true
fi
if [ -x /etc/init.d/pgbouncer ]; then
    "${SUDO[@]}" /etc/init.d/pgbouncer stop >/dev/null 2>&1 || true
    "${SUDO[@]}" update-rc.d pgbouncer disable >/dev/null 2>&1 || true
fi
if [ -f /run/postgresql/pgbouncer.pid ]; then
    pid="$(cat /run/postgresql/pgbouncer.pid 2>/dev/null || true)"
    if [ -n "$pid" ] && [ "$(cat "/proc/$pid/comm" 2>/dev/null || true)" = pgbouncer ]; then
        "${SUDO[@]}" kill "$pid" || true
    fi
fi

command -v pgbouncer >/dev/null
