"""sqlfleet: replicate a fleet of SQL Server databases into a Parquet lake and a warehouse."""

__version__ = "0.1.0"
