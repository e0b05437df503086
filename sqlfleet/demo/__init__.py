"""Deterministic demo sources: SQLite databases shaped like a fleet of SQL Server OLTP databases."""

from sqlfleet.demo.generate import (
    FLEET_NAMES,
    GeneratedDatabase,
    fleet_database_names,
    generate_database,
    generate_fleet,
    planned_row_counts,
    scale_for_total_rows,
)

__all__ = [
    "FLEET_NAMES",
    "GeneratedDatabase",
    "fleet_database_names",
    "generate_database",
    "generate_fleet",
    "planned_row_counts",
    "scale_for_total_rows",
]
