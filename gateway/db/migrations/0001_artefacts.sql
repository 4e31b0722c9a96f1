CREATE TABLE `chunks` (
	`hash` text PRIMARY KEY NOT NULL,
	`pack` text NOT NULL,
	`offset` integer NOT NULL,
	`length` integer NOT NULL,
	`seen_at` integer NOT NULL
);
--> statement-breakpoint
CREATE INDEX `chunks_pack` ON `chunks` (`pack`);--> statement-breakpoint
CREATE TABLE `manifest_refs` (
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`offset` integer NOT NULL,
	`manifest` text NOT NULL,
	PRIMARY KEY(`stream`, `partition`, `offset`, `manifest`)
);
--> statement-breakpoint
CREATE INDEX `manifest_refs_manifest` ON `manifest_refs` (`manifest`);--> statement-breakpoint
CREATE TABLE `manifests` (
	`id` text PRIMARY KEY NOT NULL,
	`size` integer NOT NULL,
	`media_type` text NOT NULL,
	`chunk_count` integer NOT NULL,
	`bytes` integer NOT NULL,
	`uploaded_at` integer NOT NULL
);
--> statement-breakpoint
CREATE TABLE `packs` (
	`id` text PRIMARY KEY NOT NULL,
	`object_key` text NOT NULL,
	`bytes` integer NOT NULL,
	`chunk_count` integer NOT NULL,
	`created_at` integer NOT NULL
);
