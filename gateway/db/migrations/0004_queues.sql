CREATE TABLE `queue_cursors` (
	`group` text NOT NULL,
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`cursor` integer NOT NULL,
	`acked` integer NOT NULL,
	`dead_lettered` integer NOT NULL,
	`redelivered` integer NOT NULL,
	`filtered` integer NOT NULL,
	`dlq_seq` integer NOT NULL,
	PRIMARY KEY(`group`, `stream`, `partition`),
	FOREIGN KEY (`group`) REFERENCES `queues`(`group`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `queue_records` (
	`group` text NOT NULL,
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`offset` integer NOT NULL,
	`state` text NOT NULL,
	`deliveries` integer NOT NULL,
	`visible_at` integer,
	`receipt` text,
	`deadline` integer,
	`last_error` text,
	`dlq_seq` integer,
	PRIMARY KEY(`group`, `stream`, `partition`, `offset`),
	FOREIGN KEY (`group`) REFERENCES `queues`(`group`) ON UPDATE no action ON DELETE cascade
);
--> statement-breakpoint
CREATE TABLE `queues` (
	`group` text PRIMARY KEY NOT NULL,
	`max_deliveries` integer NOT NULL,
	`backoff_initial_ms` integer NOT NULL,
	`backoff_max_ms` integer NOT NULL,
	`backoff_multiplier` real NOT NULL,
	`backoff_jitter` text NOT NULL,
	`visibility_ms` integer NOT NULL,
	`created_at` integer NOT NULL
);
