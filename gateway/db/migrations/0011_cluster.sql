CREATE TABLE `cluster_locks` (
	`name` text PRIMARY KEY NOT NULL,
	`holder` text,
	`epoch` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `cluster_nodes` (
	`node` text PRIMARY KEY NOT NULL,
	`url` text NOT NULL,
	`incarnation` integer NOT NULL,
	`state` text NOT NULL,
	`started_at` integer NOT NULL,
	`heartbeat_at` integer NOT NULL,
	`expires_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `cluster_secrets` (
	`name` text PRIMARY KEY NOT NULL,
	`value` text NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `intake_objects` (
	`object_key` text PRIMARY KEY NOT NULL,
	`node` text NOT NULL,
	`bytes` integer NOT NULL,
	`created_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `intake_ranges` (
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`base_offset` integer NOT NULL,
	`end_offset` integer NOT NULL,
	`object_key` text NOT NULL,
	`position` integer NOT NULL,
	`length` integer NOT NULL,
	`epoch` integer NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`stream`, `partition`, `base_offset`)
);
--> statement-breakpoint
CREATE INDEX `intake_ranges_object` ON `intake_ranges` (`object_key`);--> statement-breakpoint
CREATE TABLE `partition_leases` (
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`holder` text,
	`epoch` integer NOT NULL,
	`expires_at` integer NOT NULL,
	`granted_at` integer NOT NULL,
	PRIMARY KEY(`stream`, `partition`)
);
--> statement-breakpoint
CREATE INDEX `partition_leases_holder` ON `partition_leases` (`holder`);