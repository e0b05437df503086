"""Change data capture: positions in a source's change stream, capture on SQLite sources, deltas.

- ``positions``: LSNs, DMS start/stop position strings and the change-sequence value (pure);
- ``sqlite_capture``: MS-CDC-style change tables maintained by triggers in a SQLite source;
- ``enable``: ``sqlfleet cdc enable`` for any catalog source (SQLite applied, SQL Server as T-SQL);
- ``source_info``: the merge key of each table and the views a delta skips;
- ``delta``: the per-run decisions of a delta (where it starts, when the checkpoint advances) (pure).
"""
