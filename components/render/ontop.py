"""ontop.properties for one cube's endpoint (no password: Ontop reads it from ONTOP_DB_PASSWORD_FILE)."""

from __future__ import annotations


def render_ontop_properties(host: str, port: int, database: str, user: str) -> str:
    return (
        f"jdbc.url=jdbc:postgresql://{host}:{port}/{database}\n"
        "jdbc.driver=org.postgresql.Driver\n"
        f"jdbc.user={user}\n"
        "ontop.inferDefaultDatatype=true\n"
    )
