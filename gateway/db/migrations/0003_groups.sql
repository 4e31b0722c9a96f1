CREATE TABLE `consumer_group_members` (
	`group` text NOT NULL,
	`member` text NOT NULL,
	`instance` text,
	`streams` text NOT NULL,
	`session_timeout_ms` integer NOT NULL,
	`member_epoch` integer NOT NULL,
	`state` text NOT NULL,
	`assigned` text NOT NULL,
	`revoking` text NOT NULL,
	`target` text NOT NULL,
	`joined_at` integer NOT NULL,
	`last_heartbeat` integer NOT NULL,
	PRIMARY KEY(`group`, `member`),
	FOREIGN KEY (`group`) REFERENCES `consumer_groups`(`group`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `consumer_groups` (
	`group` text PRIMARY KEY NOT NULL,
	`epoch` integer NOT NULL,
	`created_at` integer NOT NULL,
	`updated_at` integer NOT NULL
);
