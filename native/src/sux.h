/*
 * sux: Strata's small library over UCP. One worker per process in UCS_THREAD_MODE_SINGLE,
 * progressed from one thread (the JavaScript thread). UCX callbacks never call out: they push
 * completions (op id, status, length, data) into a fixed ring that the caller drains. The ring
 * cannot overflow: every entry is reserved before the operation that produces it is posted
 * (one per operation, two per endpoint: its arrival and its failure), and a push without a
 * reservation aborts (a bug, never bad input).
 */
#ifndef SUX_H
#define SUX_H

#include <stddef.h>
#include <stdint.h>
#include <ucp/api/ucp.h>

/* Statuses of our own, below UCX's range (UCS_ERR_LAST is -100) and inside ucs_status_t (int8_t). */
#define SUX_ERR_RING_FULL (-110)  /* no ring entry left to reserve: too many outstanding operations */
#define SUX_ERR_TOO_LARGE (-111)  /* a frame over max_message_bytes */
#define SUX_ERR_CLOSED (-112)     /* the endpoint is closing, closed or failed */
#define SUX_ERR_TOO_MANY_ENDPOINTS (-113)
#define SUX_ERR_BAD_ADDRESS (-114) /* host does not resolve */
#define SUX_ERR_NOT_INTRA_HOST (-115) /* this worker has no shared-memory or cma transport */

typedef enum { SUX_OP_DONE = 1, SUX_CONN = 2, SUX_EP_FAILED = 3 } sux_entry_kind_t;

typedef struct sux_entry {
  uint32_t kind;
  uint32_t ref;    /* SUX_OP_DONE: op id; SUX_CONN: listener id; SUX_EP_FAILED: endpoint id */
  int32_t status;  /* UCS_OK or an error */
  uint64_t length; /* received bytes (receive) */
  void *data;      /* receive: malloc'd message (owned by the drainer); SUX_CONN: the new sux_ep_t */
} sux_entry_t;

typedef struct sux_worker sux_worker_t;
typedef struct sux_ep sux_ep_t;
typedef struct sux_listener sux_listener_t;
typedef struct sux_mem sux_mem_t;

typedef struct sux_worker_config {
  const char *transports; /* UCX_TLS of the stream context (socket address endpoints) or NULL for UCX's default */
  /* UCX_TLS of the RMA context (regions, gets, worker-address endpoints): only transports that
   * cannot read outside registered memory's segments (posix, sysv, cma, self; verbs where the NIC
   * enforces keys), never tcp. NULL or "": "self" only, so no peer has a one-sided path. */
  const char *rma_transports;
  int nic_enforced_keys; /* rma_transports are verbs whose NIC enforces keys: peers on other hosts may get too */
  uint32_t ring_capacity;
  uint64_t max_message_bytes;
  uint32_t max_endpoints;
} sux_worker_config_t;

int sux_worker_create(const sux_worker_config_t *config, sux_worker_t **out);
void sux_worker_destroy(sux_worker_t *w); /* every endpoint, listener and region must be gone */
/* The event fd of the stream worker (rma 0) or the RMA worker (rma 1); both must be watched. */
int sux_worker_efd(sux_worker_t *w, int rma);
/* Progresses until idle; then, while the ring is empty and operations are outstanding, keeps
 * progressing for up to spin_ns (a wake through the helper thread costs far more than a spin). */
void sux_worker_progress(sux_worker_t *w, uint64_t spin_ns);
/* UCS_OK: armed (the efd fires on the next event); UCS_ERR_BUSY: events pending, progress again. */
ucs_status_t sux_worker_arm(sux_worker_t *w);
/* Copies up to max entries out of the ring; returns how many. */
uint32_t sux_worker_drain(sux_worker_t *w, sux_entry_t *out, uint32_t max);
uint32_t sux_worker_outstanding(const sux_worker_t *w);

int sux_listen(sux_worker_t *w, uint32_t id, const char *host, uint16_t port, sux_listener_t **out, uint16_t *bound_port);
void sux_listener_destroy(sux_listener_t *l);

int sux_connect(sux_worker_t *w, const char *host, uint16_t port, sux_ep_t **out);
/* The RMA worker's UCP address (ucp_worker_get_address, kept for the worker's life); empty
 * (length 0) when the RMA context has no shared-memory or cma transport: no peer can get from us. */
const void *sux_worker_address(const sux_worker_t *w, size_t *length);
/* An endpoint to a peer worker on this host by its UCP address, for gets. UCX 1.13 never puts
 * shared memory (posix, sysv) on an endpoint with UCP_ERR_HANDLING_MODE_PEER (those transports
 * cannot detect a dead peer), and a socket-address endpoint requires that mode: so this endpoint
 * has error mode NONE. *intra_host says whether every lane UCX chose reaches only this host
 * (shared memory, cma); when not (another host: tcp or IB without failure detection), the caller
 * closes it and uses the socket-address endpoint. SUX_ERR_NOT_INTRA_HOST: this worker has no such
 * transport. The address is trusted (UCX does not bounds-check it). */
int sux_connect_address(sux_worker_t *w, const void *address, size_t length, sux_ep_t **out, int *intra_host);
uint32_t sux_ep_id(const sux_ep_t *ep);
int sux_ep_flush(sux_ep_t *ep, uint32_t op);
int sux_ep_send(sux_ep_t *ep, uint32_t op, const void *data, size_t length);
/* max_bytes: the largest body accepted (0: the worker's max_message_bytes). */
int sux_ep_receive(sux_ep_t *ep, uint32_t op, uint64_t max_bytes);
/* The endpoint keeps the last unpacked rkey: unpacking maps the peer's segment (shared memory), too slow per get. */
int sux_ep_get(sux_ep_t *ep, uint32_t op, void *local, size_t length, uint64_t remote_address, const void *packed_rkey, size_t packed_length);
/* Starts closing (force when the peer failed); the SUX_OP_DONE of op frees the endpoint. */
int sux_ep_close(sux_ep_t *ep, uint32_t op, int force);

/* address NULL: allocate length bytes with ucp_mem_map (ALLOCATE); else register [address, +length). */
int sux_mem_map(sux_worker_t *w, void *address, size_t length, sux_mem_t **out);
void *sux_mem_address(const sux_mem_t *m);
/* UCX's packed rkey (released with the region). */
const void *sux_mem_rkey(const sux_mem_t *m, size_t *length);
void sux_mem_unmap(sux_mem_t *m);

const char *sux_status_string(int status);

#endif
