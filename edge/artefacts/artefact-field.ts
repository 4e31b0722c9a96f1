// The record field that carries an artefact's ArtefactRef (written by push, read by pull).
export const ARTEFACT_FIELD = "artefact";
