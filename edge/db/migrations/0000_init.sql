CREATE TABLE `outbox` (
	`id` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`stream` text NOT NULL,
	`records` blob NOT NULL,
	`record_count` integer NOT NULL,
	`bytes` integer NOT NULL,
	`epoch` integer,
	`seq` integer,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `outbox_stream_id` ON `outbox` (`stream`,`id`);--> statement-breakpoint
CREATE INDEX `outbox_stream_seq` ON `outbox` (`stream`,`seq`);--> statement-breakpoint
CREATE TABLE `pins` (
	`stream` text NOT NULL,
	`path` text NOT NULL,
	`artefact` text,
	`size` integer,
	`updated_at` integer,
	PRIMARY KEY(`stream`, `path`)
);
--> statement-breakpoint
CREATE TABLE `producer_identity` (
	`slot` integer PRIMARY KEY NOT NULL,
	`id` integer NOT NULL,
	`epoch` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `producer_streams` (
	`stream` text PRIMARY KEY NOT NULL,
	`epoch` integer NOT NULL,
	`next_seq` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `subscriptions` (
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`offset` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`stream`, `partition`)
);
--> statement-breakpoint
CREATE TABLE `sync_state` (
	`slot` integer PRIMARY KEY NOT NULL,
	`outbox_records` integer NOT NULL,
	`outbox_bytes` integer NOT NULL,
	`last_sync` integer
);
