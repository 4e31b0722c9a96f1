ALTER TABLE `streams` ADD `cleanup` text DEFAULT 'delete' NOT NULL;--> statement-breakpoint
ALTER TABLE `streams` ADD `tombstone_ms` integer;