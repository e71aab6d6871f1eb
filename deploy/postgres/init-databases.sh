#!/bin/sh
# Runs once, on PostgreSQL's first start (an empty data volume): one role and
# one database per Trellis service, each owned by its role. Passwords come from
# the environment (deploy/.env), never from this file. TRELLIS_DB_NAME_PREFIX
# (default empty) prefixes the role and database names.
set -eu
prefix="${TRELLIS_DB_NAME_PREFIX:-}"

for service in partners funding feedback; do
    var="TRELLIS_$(echo "$service" | tr a-z A-Z)_DB_PASSWORD"
    eval "password=\${$var:-}"
    if [ -z "$password" ]; then
        echo "init-databases: $var is not set" >&2
        exit 1
    fi
    psql -v ON_ERROR_STOP=1 --username "$POSTGRES_USER" --dbname "$POSTGRES_DB" \
        -v role="$prefix$service" -v password="$password" <<'SQL'
CREATE ROLE :"role" LOGIN PASSWORD :'password';
CREATE DATABASE :"role" OWNER :"role";
REVOKE ALL ON DATABASE :"role" FROM PUBLIC;
SQL
    echo "init-databases: created database $prefix$service"
done
