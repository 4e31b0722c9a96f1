CREATE TABLE `checkpoint_ranks` (
	`job` text NOT NULL,
	`id` text NOT NULL,
	`rank` integer NOT NULL,
	`artefact` text NOT NULL,
	`state` text,
	`committed_at` integer NOT NULL,
	PRIMARY KEY(`job`, `id`, `rank`)
);
--> statement-breakpoint
CREATE TABLE `checkpoints` (
	`job` text NOT NULL,
	`id` text NOT NULL,
	`step` integer NOT NULL,
	`world_size` integer NOT NULL,
	`state` text NOT NULL,
	`created_at` integer NOT NULL,
	`completed_at` integer,
	`ended_at` integer,
	`record_partition` integer,
	`record_offset` integer,
	PRIMARY KEY(`job`, `id`)
);
--> statement-breakpoint
CREATE INDEX `checkpoints_state` ON `checkpoints` (`state`);--> statement-breakpoint
CREATE TABLE `jobs` (
	`name` text PRIMARY KEY NOT NULL,
	`keep` integer NOT NULL,
	`created_at` integer NOT NULL
);
