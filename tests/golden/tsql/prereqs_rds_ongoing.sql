-- sqlfleet: SQL Server prerequisites for AWS DMS (ongoing, rds)
-- Run as sysadmin (on premises) or the RDS master user: sqlcmd -b -S <server> -i <this file>
-- The DMS logins must exist first; their passwords belong in the endpoints' secrets, e.g.
--   CREATE LOGIN [dms_user] WITH PASSWORD = '<from the secret>', CHECK_POLICY = ON;

-- ===== server sql1.example.com:1433 =====
-- login dms_user
USE [master];
GRANT VIEW SERVER STATE TO [dms_user];
EXEC rdsadmin.dbo.rds_set_configuration N'cdc_capture_pollinginterval', 86399;
GO
-- database Sales_EU (catalog: sales_eu)
USE [Sales_EU];
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'Sales_EU' AND recovery_model_desc = N'FULL') BEGIN RAISERROR(N'Sales_EU must use the FULL recovery model for ongoing replication: ALTER DATABASE [Sales_EU] SET RECOVERY FULL, then take a full backup', 16, 1); END;
GO
USE [Sales_EU];
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'dms_user') BEGIN CREATE USER [dms_user] FOR LOGIN [dms_user]; END;
ALTER ROLE [db_owner] ADD MEMBER [dms_user];
GRANT VIEW DATABASE STATE TO [dms_user];
GRANT VIEW DEFINITION TO [dms_user];
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'Sales_EU' AND is_cdc_enabled = 1) BEGIN EXEC msdb.dbo.rds_cdc_enable_db N'Sales_EU'; END;
DECLARE @sqlfleet_cdc NVARCHAR(MAX) = (SELECT N'EXEC sys.sp_cdc_enable_table @source_schema = N' + QUOTENAME(s.name, N'''') + N', @source_name = N' + QUOTENAME(t.name, N'''') + N', @role_name = NULL, @supports_net_changes = ' + CASE WHEN EXISTS (SELECT 1 FROM sys.indexes AS i WHERE i.object_id = t.object_id AND i.is_primary_key = 1) THEN N'1' ELSE N'0' END + N';' + NCHAR(10) FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE t.is_ms_shipped = 0 AND t.is_memory_optimized = 0 AND (s.name LIKE N'dbo' OR s.name LIKE N'sales[_]%') AND (t.name LIKE N'%') AND NOT (s.name LIKE N'sales[_]tmp') AND NOT (t.name LIKE N'tmp[_]%' OR t.name LIKE N'[[]old]%') AND t.is_tracked_by_cdc = 0 ORDER BY s.name, t.name FOR XML PATH(''), TYPE).value(N'.', N'NVARCHAR(MAX)');
IF @sqlfleet_cdc IS NOT NULL BEGIN EXEC sys.sp_executesql @sqlfleet_cdc; END;
EXEC sys.sp_cdc_change_job @job_type = N'capture', @pollinginterval = 86399;
EXEC sys.sp_cdc_stop_job @job_type = N'capture';
EXEC sys.sp_cdc_start_job @job_type = N'capture';
GO
-- database CRM (catalog: crm)
USE [CRM];
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'CRM' AND recovery_model_desc = N'FULL') BEGIN RAISERROR(N'CRM must use the FULL recovery model for ongoing replication: ALTER DATABASE [CRM] SET RECOVERY FULL, then take a full backup', 16, 1); END;
GO
USE [CRM];
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'dms_user') BEGIN CREATE USER [dms_user] FOR LOGIN [dms_user]; END;
ALTER ROLE [db_owner] ADD MEMBER [dms_user];
GRANT VIEW DATABASE STATE TO [dms_user];
GRANT VIEW DEFINITION TO [dms_user];
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'CRM' AND is_cdc_enabled = 1) BEGIN EXEC msdb.dbo.rds_cdc_enable_db N'CRM'; END;
DECLARE @sqlfleet_cdc NVARCHAR(MAX) = (SELECT N'EXEC sys.sp_cdc_enable_table @source_schema = N' + QUOTENAME(s.name, N'''') + N', @source_name = N' + QUOTENAME(t.name, N'''') + N', @role_name = NULL, @supports_net_changes = ' + CASE WHEN EXISTS (SELECT 1 FROM sys.indexes AS i WHERE i.object_id = t.object_id AND i.is_primary_key = 1) THEN N'1' ELSE N'0' END + N';' + NCHAR(10) FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE t.is_ms_shipped = 0 AND t.is_memory_optimized = 0 AND (s.name LIKE N'%') AND (t.name LIKE N'%') AND t.is_tracked_by_cdc = 0 ORDER BY s.name, t.name FOR XML PATH(''), TYPE).value(N'.', N'NVARCHAR(MAX)');
IF @sqlfleet_cdc IS NOT NULL BEGIN EXEC sys.sp_executesql @sqlfleet_cdc; END;
EXEC sys.sp_cdc_change_job @job_type = N'capture', @pollinginterval = 86399;
EXEC sys.sp_cdc_stop_job @job_type = N'capture';
EXEC sys.sp_cdc_start_job @job_type = N'capture';
GO

-- ===== server sql2.example.com:14330 =====
-- login dms]o'user
USE [master];
GRANT VIEW SERVER STATE TO [dms]]o'user];
EXEC rdsadmin.dbo.rds_set_configuration N'cdc_capture_pollinginterval', 86399;
GO
-- database Odd]Name%'x (catalog: odd)
USE [Odd]]Name%'x];
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'Odd]Name%''x' AND recovery_model_desc = N'FULL') BEGIN RAISERROR(N'Odd]Name%%''x must use the FULL recovery model for ongoing replication: ALTER DATABASE [Odd]]Name%%''x] SET RECOVERY FULL, then take a full backup', 16, 1); END;
GO
USE [Odd]]Name%'x];
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'dms]o''user') BEGIN CREATE USER [dms]]o'user] FOR LOGIN [dms]]o'user]; END;
ALTER ROLE [db_owner] ADD MEMBER [dms]]o'user];
GRANT VIEW DATABASE STATE TO [dms]]o'user];
GRANT VIEW DEFINITION TO [dms]]o'user];
IF NOT EXISTS (SELECT 1 FROM sys.databases WHERE name = N'Odd]Name%''x' AND is_cdc_enabled = 1) BEGIN EXEC msdb.dbo.rds_cdc_enable_db N'Odd]Name%''x'; END;
DECLARE @sqlfleet_cdc NVARCHAR(MAX) = (SELECT N'EXEC sys.sp_cdc_enable_table @source_schema = N' + QUOTENAME(s.name, N'''') + N', @source_name = N' + QUOTENAME(t.name, N'''') + N', @role_name = NULL, @supports_net_changes = ' + CASE WHEN EXISTS (SELECT 1 FROM sys.indexes AS i WHERE i.object_id = t.object_id AND i.is_primary_key = 1) THEN N'1' ELSE N'0' END + N';' + NCHAR(10) FROM sys.tables AS t JOIN sys.schemas AS s ON s.schema_id = t.schema_id WHERE t.is_ms_shipped = 0 AND t.is_memory_optimized = 0 AND (s.name LIKE N'%') AND (t.name LIKE N'it''s[_]%') AND t.is_tracked_by_cdc = 0 ORDER BY s.name, t.name FOR XML PATH(''), TYPE).value(N'.', N'NVARCHAR(MAX)');
IF @sqlfleet_cdc IS NOT NULL BEGIN EXEC sys.sp_executesql @sqlfleet_cdc; END;
EXEC sys.sp_cdc_change_job @job_type = N'capture', @pollinginterval = 86399;
EXEC sys.sp_cdc_stop_job @job_type = N'capture';
EXEC sys.sp_cdc_start_job @job_type = N'capture';
GO
