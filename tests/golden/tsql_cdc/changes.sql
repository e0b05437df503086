SET NOCOUNT ON;
DECLARE @from_lsn BINARY(10) = sys.fn_cdc_increment_lsn(0x0000000000000000002A);
DECLARE @to_lsn BINARY(10) = sys.fn_cdc_map_time_to_lsn('largest less than or equal', N'2024-05-01 12:00:00.000');
IF @from_lsn < sys.fn_cdc_get_min_lsn(N'dbo_Sales Order') BEGIN RAISERROR(N'changes of dbo_Sales Order after the start position were cleaned up: run a full load', 16, 1); RETURN; END;
IF @from_lsn <= @to_lsn BEGIN SELECT CONVERT(VARCHAR(20), [__$start_lsn], 2) AS start_lsn, CONVERT(VARCHAR(20), [__$seqval], 2) AS seqval, [__$operation] AS operation, CONVERT(VARCHAR(23), sys.fn_cdc_map_lsn_to_time([__$start_lsn]), 121) AS commit_time, [id], [Unit Price], [say "hi"] FROM cdc.[fn_cdc_get_all_changes_dbo_Sales Order](@from_lsn, @to_lsn, N'all') ORDER BY [__$start_lsn], [__$seqval], [__$operation]; END;
