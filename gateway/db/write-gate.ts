// Serializes the writers of an embedded (file:) metadata database within this process.
//
// libSQL runs a local statement synchronously on the JS thread, on a connection of the client's
// pool; a transaction keeps its connection until it settles. A write on another connection while
// a transaction holds the file's write lock waits in SQLite's busy handler, on the JS thread, so
// the transaction it waits for cannot run: it fails with SQLITE_BUSY after the busy timeout, the
// whole process frozen meanwhile. So transactions, batches and writing statements queue here
// (asynchronously, in arrival order) behind the open transaction; reads (WAL mode) never wait.
import type { Client, InArgs, InStatement, ResultSet, Transaction, TransactionMode } from "@libsql/client";
import { invariant } from "../../core/errors.ts";

type Release = () => void;

class WriteGate {
  #tail: Promise<void> = Promise.resolve();
  #held = 0;

  /** Resolves once every earlier holder released; the release is idempotent. */
  acquire(): Promise<Release> {
    let open!: () => void;
    const done = new Promise<void>((resolve) => (open = resolve));
    const previous = this.#tail;
    this.#tail = previous.then(() => done);
    return previous.then(() => {
      this.#held++;
      invariant(this.#held === 1, "write gate: one holder at a time");
      let released = false;
      return () => {
        if (released) return;
        released = true;
        this.#held--;
        open();
      };
    });
  }

  async run<T>(task: () => Promise<T>): Promise<T> {
    const release = await this.acquire();
    try {
      return await task();
    } finally {
      release();
    }
  }
}

function sqlOf(stmt: InStatement): string {
  return typeof stmt === "string" ? stmt : stmt.sql;
}

/** SELECTs (drizzle's queries start with "select") read a WAL snapshot and need no gate. */
function isRead(stmt: InStatement): boolean {
  return /^\s*select\b/i.test(sqlOf(stmt));
}

/** The transaction releases the gate when it commits, rolls back or is closed. */
function releasingOnSettle(tx: Transaction, release: Release): Transaction {
  const commit = tx.commit.bind(tx);
  const rollback = tx.rollback.bind(tx);
  const close = tx.close.bind(tx);
  tx.commit = async () => {
    try {
      await commit();
    } finally {
      release();
    }
  };
  tx.rollback = async () => {
    try {
      await rollback();
    } finally {
      release();
    }
  };
  tx.close = () => {
    try {
      close();
    } finally {
      release();
    }
  };
  return tx;
}

/** Installs the gate on `client`'s methods (drizzle calls them through the same object). */
export function gateWrites(client: Client): Client {
  const gate = new WriteGate();
  const transaction = client.transaction.bind(client);
  const batch = client.batch.bind(client);
  const executeMultiple = client.executeMultiple.bind(client);
  const execute = (stmt: InStatement, args?: InArgs): Promise<ResultSet> =>
    typeof stmt === "string" && args !== undefined ? originalExecute(stmt, args) : originalExecute(stmt);
  const originalExecute = client.execute.bind(client);

  function gatedExecute(stmt: InStatement): Promise<ResultSet>;
  function gatedExecute(sql: string, args?: InArgs): Promise<ResultSet>;
  function gatedExecute(stmt: InStatement, args?: InArgs): Promise<ResultSet> {
    return isRead(stmt) ? execute(stmt, args) : gate.run(() => execute(stmt, args));
  }

  client.transaction = async (mode?: TransactionMode): Promise<Transaction> => {
    const release = await gate.acquire();
    try {
      return releasingOnSettle(await transaction(mode), release);
    } catch (e) {
      release();
      throw e;
    }
  };
  client.execute = gatedExecute;
  client.batch = (stmts: Array<InStatement | [string, InArgs?]>, mode?: TransactionMode) => (mode === "read" ? batch(stmts, mode) : gate.run(() => batch(stmts, mode)));
  client.executeMultiple = (sql: string) => gate.run(() => executeMultiple(sql));
  return client;
}
