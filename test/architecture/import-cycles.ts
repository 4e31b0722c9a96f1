// Import cycles between files: strongly connected components (Tarjan), each shown as one cycle.
import { invariant } from "../../core/errors.ts";

/** `graph.get(file)` lists the files `file` imports (only files that are in the graph count). */
export type FileGraph = ReadonlyMap<string, readonly string[]>;

/** A group of files that import each other in a circle: all of them, and one circle through the first. */
export interface ImportCycle {
  readonly files: readonly string[];
  /** `a → b → … → a`, the shortest circle from the group's first file back to itself. */
  readonly path: readonly string[];
}

export function findImportCycles(graph: FileGraph): ImportCycle[] {
  return stronglyConnected(graph)
    .filter((component) => component.length > 1 || (graph.get(component[0] ?? "") ?? []).includes(component[0] ?? ""))
    .map((component) => ({ files: component, path: cycleThrough(graph, component) }))
    .sort((a, b) => (a.files[0] ?? "").localeCompare(b.files[0] ?? ""));
}

function stronglyConnected(graph: FileGraph): string[][] {
  const index = new Map<string, number>();
  const lowLink = new Map<string, number>();
  const onStack = new Set<string>();
  const stack: string[] = [];
  const components: string[][] = [];
  let next = 0;

  // Iterative Tarjan: a recursive one would overflow on a long import chain.
  for (const start of graph.keys()) {
    if (index.has(start)) continue;
    const frames: { node: string; edge: number }[] = [{ node: start, edge: 0 }];
    index.set(start, next);
    lowLink.set(start, next++);
    stack.push(start);
    onStack.add(start);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      invariant(frame !== undefined, "Tarjan frame stack is not empty");
      const edges = (graph.get(frame.node) ?? []).filter((target) => graph.has(target));
      const target = edges[frame.edge++];
      if (target !== undefined) {
        if (!index.has(target)) {
          index.set(target, next);
          lowLink.set(target, next++);
          stack.push(target);
          onStack.add(target);
          frames.push({ node: target, edge: 0 });
        } else if (onStack.has(target)) {
          lowLink.set(frame.node, Math.min(lowLink.get(frame.node) ?? 0, index.get(target) ?? 0));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent !== undefined) lowLink.set(parent.node, Math.min(lowLink.get(parent.node) ?? 0, lowLink.get(frame.node) ?? 0));
      if (lowLink.get(frame.node) === index.get(frame.node)) {
        const component: string[] = [];
        let member: string | undefined;
        do {
          member = stack.pop();
          invariant(member !== undefined, "a component's root is on the Tarjan stack");
          onStack.delete(member);
          component.push(member);
        } while (member !== frame.node);
        components.push(component.sort());
      }
    }
  }
  return components;
}

/** The shortest cycle from the component's first file back to itself (breadth-first). */
function cycleThrough(graph: FileGraph, component: readonly string[]): string[] {
  const members = new Set(component);
  const start = component[0];
  invariant(start !== undefined, "a component has a file");
  const previous = new Map<string, string>();
  const queue = [start];
  for (let head = 0; head < queue.length; head++) {
    const node = queue[head];
    invariant(node !== undefined, "queue index in range");
    for (const target of graph.get(node) ?? []) {
      if (target === start) {
        const path = [start];
        for (let at: string | undefined = node; at !== undefined && at !== start; at = previous.get(at)) path.splice(1, 0, at);
        return [...path, start];
      }
      if (members.has(target) && !previous.has(target)) {
        previous.set(target, node);
        queue.push(target);
      }
    }
  }
  throw new Error(`no cycle through ${start} although it is in a strongly connected component`);
}
