CREATE TABLE `consumer_offsets` (
	`group` text NOT NULL,
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`offset` integer NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`group`, `stream`, `partition`)
);
--> statement-breakpoint
CREATE TABLE `partitions` (
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`start_offset` integer DEFAULT 0 NOT NULL,
	PRIMARY KEY(`stream`, `partition`),
	FOREIGN KEY (`stream`) REFERENCES `streams`(`name`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `producers` (
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`producer_id` integer NOT NULL,
	`epoch` integer NOT NULL,
	`recent` text NOT NULL,
	`updated_at` integer NOT NULL,
	PRIMARY KEY(`stream`, `partition`, `producer_id`)
);
--> statement-breakpoint
CREATE TABLE `segments` (
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`base_offset` integer NOT NULL,
	`end_offset` integer NOT NULL,
	`bytes` integer NOT NULL,
	`first_timestamp` integer NOT NULL,
	`max_timestamp` integer NOT NULL,
	`object_key` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`stream`, `partition`, `base_offset`)
);
--> statement-breakpoint
CREATE TABLE `streams` (
	`name` text PRIMARY KEY NOT NULL,
	`partitions` integer NOT NULL,
	`retention_ms` integer,
	`retention_bytes` integer,
	`created_at` integer NOT NULL
);
