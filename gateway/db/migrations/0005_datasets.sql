-- datasets: tables are added by the datasets work; a no-op until then.
SELECT 1;
