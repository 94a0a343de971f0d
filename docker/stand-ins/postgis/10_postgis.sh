# Sourced by the entrypoint on first start, as in postgis/postgis: a template with PostGIS, and the
# extension in the configured database.
psql -v ON_ERROR_STOP=1 -U "$user" -d postgres -q <<SQL
CREATE DATABASE template_postgis IS_TEMPLATE true;
SQL
for target in template_postgis "$db"; do
    psql -v ON_ERROR_STOP=1 -U "$user" -d "$target" -q -c "CREATE EXTENSION IF NOT EXISTS postgis"
done
