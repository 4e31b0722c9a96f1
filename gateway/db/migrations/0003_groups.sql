-- groups: tables are added by the groups work; a no-op until then.
SELECT 1;
