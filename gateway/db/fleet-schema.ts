// Edge devices and staged rollouts (issue 17). Filled in by migration 0010.
export {};
