#!/bin/sh
# The official postgres image's entrypoint contract, in short: initialise $PGDATA on first start
# (superuser $POSTGRES_USER with the password from $POSTGRES_PASSWORD or $POSTGRES_PASSWORD_FILE,
# database $POSTGRES_DB, scram-sha-256 for every network client), run /docker-entrypoint-initdb.d,
# then exec the command as the postgres user.
set -eu
if [ "${1#-}" != "$1" ]; then set -- postgres "$@"; fi
if [ "$1" = postgres ] && [ "$(id -u)" = 0 ]; then
    # As the official image: the password file (a root-owned Swarm secret) is read as root.
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
        export POSTGRES_PASSWORD
        unset POSTGRES_PASSWORD_FILE
    fi
    mkdir -p "$PGDATA"
    chown -R postgres:postgres "$PGDATA"
    chmod 700 "$PGDATA"
    exec setpriv --reuid=postgres --regid=postgres --init-groups "$0" "$@"
fi
if [ "$1" = postgres ] && [ ! -s "$PGDATA/PG_VERSION" ]; then
    user="${POSTGRES_USER:-postgres}"
    db="${POSTGRES_DB:-$user}"
    if [ -n "${POSTGRES_PASSWORD_FILE:-}" ]; then
        POSTGRES_PASSWORD="$(cat "$POSTGRES_PASSWORD_FILE")"
    fi
    if [ -z "${POSTGRES_PASSWORD:-}" ]; then
        echo "postgres: no POSTGRES_PASSWORD or POSTGRES_PASSWORD_FILE; refusing to start" >&2
        exit 1
    fi
    # The password goes through a pipe, never a file. UTF8 like the official image (en_US.utf8):
    # without a locale initdb picks SQL_ASCII, and clients then get bytes instead of text.
    printf '%s\n' "$POSTGRES_PASSWORD" | initdb --username="$user" --pwfile=/dev/stdin \
        --encoding=UTF8 --locale=C.UTF-8 \
        --auth-local=trust --auth-host=scram-sha-256 ${POSTGRES_INITDB_ARGS:-} >/dev/null
    unset POSTGRES_PASSWORD
    echo "host all all all scram-sha-256" >> "$PGDATA/pg_hba.conf"
    echo "listen_addresses = '*'" >> "$PGDATA/postgresql.conf"
    pg_ctl -D "$PGDATA" -o "-c listen_addresses='' -p 5432" -w start >/dev/null
    if [ "$db" != postgres ]; then
        psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q -c "CREATE DATABASE \"$db\""
    fi
    for f in /docker-entrypoint-initdb.d/*; do
        case "$f" in
            *.sh) echo "postgres: running $f"; . "$f" ;;
            *.sql) echo "postgres: running $f"; psql -v ON_ERROR_STOP=1 -U "$user" -d "$db" -q -f "$f" ;;
            *.sql.gz) echo "postgres: running $f"; gunzip -c "$f" | psql -v ON_ERROR_STOP=1 -U "$user" -d "$db" -q ;;
            *) ;;
        esac
    done
    pg_ctl -D "$PGDATA" -m fast -w stop >/dev/null
    echo "postgres: initialised $PGDATA (user $user, database $db)"
fi
exec "$@"
