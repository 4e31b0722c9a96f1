CREATE TABLE `dataset_partitions` (
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`partition` integer NOT NULL,
	`start` integer NOT NULL,
	`end` integer NOT NULL,
	`samples` integer NOT NULL,
	`first_index` integer NOT NULL,
	`matches` blob,
	PRIMARY KEY(`name`, `version`, `partition`)
);
--> statement-breakpoint
CREATE TABLE `dataset_versions` (
	`name` text NOT NULL,
	`version` integer NOT NULL,
	`stream` text NOT NULL,
	`filter` text,
	`fields` text,
	`samples` integer NOT NULL,
	`bytes` integer NOT NULL,
	`span_samples` integer NOT NULL,
	`created_at` integer NOT NULL,
	`released_at` integer,
	PRIMARY KEY(`name`, `version`)
);
