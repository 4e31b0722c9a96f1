CREATE TABLE `gradient_contributions` (
	`stream` text NOT NULL,
	`step` integer NOT NULL,
	`rank` integer NOT NULL,
	`digest` text NOT NULL,
	`partition` integer,
	`offset` integer,
	`accepted_at` integer NOT NULL,
	PRIMARY KEY(`stream`, `step`, `rank`)
);
--> statement-breakpoint
CREATE TABLE `gradient_steps` (
	`stream` text NOT NULL,
	`step` integer NOT NULL,
	`world_size` integer NOT NULL,
	`signature` text NOT NULL,
	`created_at` integer NOT NULL,
	PRIMARY KEY(`stream`, `step`)
);
