-- queues: tables are added by the queues work; a no-op until then.
SELECT 1;
