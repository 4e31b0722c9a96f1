CREATE TABLE `devices` (
	`id` text PRIMARY KEY NOT NULL,
	`labels` text NOT NULL,
	`pins` text NOT NULL,
	`outbox_records` integer NOT NULL,
	`transport` text NOT NULL,
	`version` text NOT NULL,
	`errors` text NOT NULL,
	`first_seen` integer NOT NULL,
	`last_seen` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `rollout_failures` (
	`rollout_id` text NOT NULL,
	`device_id` text NOT NULL,
	`message` text NOT NULL,
	`at` integer NOT NULL,
	PRIMARY KEY(`rollout_id`, `device_id`)
);
--> statement-breakpoint
CREATE TABLE `rollouts` (
	`id` text PRIMARY KEY NOT NULL,
	`stream` text NOT NULL,
	`artefact` text NOT NULL,
	`previous` text,
	`percent_bp` integer NOT NULL,
	`labels` text NOT NULL,
	`max_failure_percent` integer,
	`state` text NOT NULL,
	`reason` text,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
