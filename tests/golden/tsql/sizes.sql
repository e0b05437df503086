-- sqlfleet: the size_mb of each database's selected tables, for its catalog entry (read-only)
-- Run as a login that sees the tables' metadata (the DMS login will do): sqlcmd -S <server> -i <this file>
-- A size_mb of 0 means no data yet: leave size_mb out for that database.

-- ===== server sql1.example.com:1433 =====
SELECT N'sales_eu' AS catalog_name, CAST(COALESCE(SUM(CASE WHEN a.type = 1 THEN a.data_pages ELSE a.used_pages END), 0) * 8 / 1024.0 AS DECIMAL(18, 3)) AS size_mb FROM [Sales_EU].sys.tables AS t JOIN [Sales_EU].sys.schemas AS s ON s.schema_id = t.schema_id JOIN [Sales_EU].sys.partitions AS p ON p.object_id = t.object_id AND p.index_id < 2 JOIN [Sales_EU].sys.allocation_units AS a ON a.container_id = CASE WHEN a.type = 2 THEN p.partition_id ELSE p.hobt_id END WHERE t.is_ms_shipped = 0 AND t.is_memory_optimized = 0 AND (s.name LIKE N'dbo' OR s.name LIKE N'sales[_]%') AND (t.name LIKE N'%') AND NOT (s.name LIKE N'sales[_]tmp') AND NOT (t.name LIKE N'tmp[_]%' OR t.name LIKE N'[[]old]%');
GO
SELECT N'crm' AS catalog_name, CAST(COALESCE(SUM(CASE WHEN a.type = 1 THEN a.data_pages ELSE a.used_pages END), 0) * 8 / 1024.0 AS DECIMAL(18, 3)) AS size_mb FROM [CRM].sys.tables AS t JOIN [CRM].sys.schemas AS s ON s.schema_id = t.schema_id JOIN [CRM].sys.partitions AS p ON p.object_id = t.object_id AND p.index_id < 2 JOIN [CRM].sys.allocation_units AS a ON a.container_id = CASE WHEN a.type = 2 THEN p.partition_id ELSE p.hobt_id END WHERE t.is_ms_shipped = 0 AND t.is_memory_optimized = 0 AND (s.name LIKE N'%') AND (t.name LIKE N'%');
GO

-- ===== server sql2.example.com:14330 =====
SELECT N'odd' AS catalog_name, CAST(COALESCE(SUM(CASE WHEN a.type = 1 THEN a.data_pages ELSE a.used_pages END), 0) * 8 / 1024.0 AS DECIMAL(18, 3)) AS size_mb FROM [Odd]]Name%'x].sys.tables AS t JOIN [Odd]]Name%'x].sys.schemas AS s ON s.schema_id = t.schema_id JOIN [Odd]]Name%'x].sys.partitions AS p ON p.object_id = t.object_id AND p.index_id < 2 JOIN [Odd]]Name%'x].sys.allocation_units AS a ON a.container_id = CASE WHEN a.type = 2 THEN p.partition_id ELSE p.hobt_id END WHERE t.is_ms_shipped = 0 AND t.is_memory_optimized = 0 AND (s.name LIKE N'%') AND (t.name LIKE N'it''s[_]%');
GO
