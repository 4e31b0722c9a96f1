CREATE TABLE `artefact_versions` (
	`seq` integer PRIMARY KEY AUTOINCREMENT NOT NULL,
	`stream` text NOT NULL,
	`partition` integer NOT NULL,
	`offset` integer NOT NULL,
	`artefact` text NOT NULL,
	`size` integer NOT NULL,
	`media_type` text NOT NULL,
	`file_name` text,
	`timestamp` integer NOT NULL,
	`fields` text
);
--> statement-breakpoint
CREATE UNIQUE INDEX `artefact_versions_record` ON `artefact_versions` (`stream`,`partition`,`offset`);--> statement-breakpoint
CREATE INDEX `artefact_versions_stream_seq` ON `artefact_versions` (`stream`,`seq`);--> statement-breakpoint
CREATE INDEX `artefact_versions_stream_artefact` ON `artefact_versions` (`stream`,`artefact`);
