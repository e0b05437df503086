-- sqlfleet: SQL Server prerequisites for AWS DMS (full-load, on-prem)
-- Run as sysadmin (on premises) or the RDS master user: sqlcmd -b -S <server> -i <this file>
-- The DMS logins must exist first; their passwords belong in the endpoints' secrets, e.g.
--   CREATE LOGIN [dms_user] WITH PASSWORD = '<from the secret>', CHECK_POLICY = ON;

-- ===== server sql1.example.com:1433 =====
-- login dms_user
USE [master];
GRANT VIEW SERVER STATE TO [dms_user];
GO
-- database Sales_EU (catalog: sales_eu)
USE [Sales_EU];
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'dms_user') BEGIN CREATE USER [dms_user] FOR LOGIN [dms_user]; END;
ALTER ROLE [db_datareader] ADD MEMBER [dms_user];
GRANT VIEW DATABASE STATE TO [dms_user];
GRANT VIEW DEFINITION TO [dms_user];
GO
-- database CRM (catalog: crm)
USE [CRM];
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'dms_user') BEGIN CREATE USER [dms_user] FOR LOGIN [dms_user]; END;
ALTER ROLE [db_datareader] ADD MEMBER [dms_user];
GRANT VIEW DATABASE STATE TO [dms_user];
GRANT VIEW DEFINITION TO [dms_user];
GO

-- ===== server sql2.example.com:14330 =====
-- login dms]o'user
USE [master];
GRANT VIEW SERVER STATE TO [dms]]o'user];
GO
-- database Odd]Name%'x (catalog: odd)
USE [Odd]]Name%'x];
IF NOT EXISTS (SELECT 1 FROM sys.database_principals WHERE name = N'dms]o''user') BEGIN CREATE USER [dms]]o'user] FOR LOGIN [dms]]o'user]; END;
ALTER ROLE [db_datareader] ADD MEMBER [dms]]o'user];
GRANT VIEW DATABASE STATE TO [dms]]o'user];
GRANT VIEW DEFINITION TO [dms]]o'user];
GO
