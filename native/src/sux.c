/* sux: see sux.h. */
#define _GNU_SOURCE
#include "sux.h"

#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* Two UCP contexts, so that no peer can issue RMA over a transport that checks no remote key:
 * `context`/`worker` (streams, no UCP_FEATURE_RMA) listen and connect by socket address (tcp);
 * `rma_context`/`rma_worker` (RMA only) are restricted to transports where a forged key reaches
 * no memory outside registered regions' segments (shared memory, cma, self; or NIC-enforced keys
 * when the caller says so), are reached only by worker address, and map every region. Over tcp,
 * UCX 1.13's software RMA reads any address a peer names (a forged key read unregistered memory,
 * a get at 0x1000 crashed the server); without the RMA feature the stream worker serves none. */
struct sux_worker {
  ucp_context_h context;
  ucp_worker_h worker;
  ucp_context_h rma_context;
  ucp_worker_h rma_worker;
  sux_entry_t *ring;
  uint32_t capacity, head, count;
  uint32_t reserved; /* entries promised to posted operations and live endpoints, including those in the ring */
  uint32_t outstanding; /* posted operations not yet completed */
  uint64_t max_message_bytes;
  uint32_t max_endpoints, endpoints;
  uint32_t next_ep_id;
  ucp_address_t *address;
  size_t address_length;
  int intra_host; /* the RMA context has a shared-memory or cma transport: worth an endpoint by address */
};

typedef enum { EP_OPEN, EP_FAILED, EP_CLOSING } sux_ep_state_t;

struct sux_ep {
  sux_worker_t *w;
  ucp_ep_h ep;
  uint32_t id;
  sux_ep_state_t state;
  int failure_reserved; /* the ring entry kept for this endpoint's SUX_EP_FAILED */
  uint32_t ops;         /* operations that still point here; the endpoint is freed when it is closed and this is 0 */
  /* The last unpacked rkey, reused while the same packed bytes come back; destroyed when replaced idle or at close. */
  ucp_rkey_h cached_rkey;
  void *cached_packed;
  size_t cached_length;
  uint32_t cached_users;
  int close_done;
};

struct sux_listener {
  sux_worker_t *w;
  ucp_listener_h listener;
  uint32_t id;
};

struct sux_mem {
  sux_worker_t *w;
  ucp_mem_h memh;
  void *address;
  size_t length;
  void *rkey;
  size_t rkey_length;
};

typedef enum { OP_PLAIN, OP_SEND, OP_RECEIVE, OP_GET, OP_CLOSE } sux_op_kind_t;

/* One posted operation; a send is two stream sends (the length prefix, then the body). */
typedef struct sux_op {
  sux_op_kind_t kind;
  uint32_t id;
  sux_ep_t *ep;
  int parts;         /* UCX requests still pending */
  ucs_status_t status;
  uint32_t header;   /* the frame's little-endian length prefix */
  uint8_t *body;     /* receive: the message */
  uint64_t length;
  uint64_t max_bytes; /* receive: the largest body accepted */
  ucp_rkey_h rkey;   /* get: an rkey of its own (destroyed when done) */
  int uses_cached;   /* get: uses the endpoint's cached rkey */
} sux_op_t;

static int context_has_intra_host(ucp_context_h context);
typedef struct transport_count {
  int lines, intra_host;
} transport_count_t;
static transport_count_t count_printout(void (*print)(void *, FILE *), void *subject, const char *marker, const char *lead);
static void print_context(void *context, FILE *f);

static void fatal(const char *what) {
  fprintf(stderr, "strata-ucx: invariant violated: %s\n", what);
  abort();
}

static int reserve(sux_worker_t *w, uint32_t n) {
  if (w->reserved + n > w->capacity) return 0;
  w->reserved += n;
  return 1;
}

static void push(sux_worker_t *w, uint32_t kind, uint32_t ref, int32_t status, uint64_t length, void *data) {
  /* Every push consumes a reservation made before the operation was posted. */
  if (w->count >= w->reserved || w->count >= w->capacity) fatal("ring push without a reservation");
  sux_entry_t *e = &w->ring[(w->head + w->count) % w->capacity];
  e->kind = kind;
  e->ref = ref;
  e->status = status;
  e->length = length;
  e->data = data;
  w->count++;
}

const char *sux_status_string(int status) {
  switch (status) {
  case SUX_ERR_RING_FULL: return "too many outstanding operations (completion ring full)";
  case SUX_ERR_TOO_LARGE: return "message over the maximum message size";
  case SUX_ERR_CLOSED: return "endpoint closed";
  case SUX_ERR_TOO_MANY_ENDPOINTS: return "too many endpoints";
  case SUX_ERR_BAD_ADDRESS: return "host does not resolve";
  case SUX_ERR_NOT_INTRA_HOST: return "no shared-memory or cma transport in this worker's RMA context";
  default: return ucs_status_string((ucs_status_t)status);
  }
}

/* A context with `features` over `transports` (UCX_TLS syntax; NULL: $UCX_TLS or UCX's choice) and its single-thread worker. */
static ucs_status_t open_context(const char *transports, uint64_t features, ucp_context_h *context, ucp_worker_h *worker) {
  ucp_config_t *ucp_config;
  ucs_status_t status = ucp_config_read(NULL, NULL, &ucp_config);
  if (status != UCS_OK) return status;
  if (transports != NULL) status = ucp_config_modify(ucp_config, "TLS", transports);
  if (status == UCS_OK) {
    ucp_params_t params = {.field_mask = UCP_PARAM_FIELD_FEATURES, .features = features};
    status = ucp_init(&params, ucp_config, context);
  }
  ucp_config_release(ucp_config);
  if (status != UCS_OK) return status;
  ucp_worker_params_t worker_params = {.field_mask = UCP_WORKER_PARAM_FIELD_THREAD_MODE, .thread_mode = UCS_THREAD_MODE_SINGLE};
  status = ucp_worker_create(*context, &worker_params, worker);
  if (status != UCS_OK) ucp_cleanup(*context);
  return status;
}

int sux_worker_create(const sux_worker_config_t *config, sux_worker_t **out) {
  if (config->ring_capacity < 4 || config->max_endpoints == 0) return UCS_ERR_INVALID_PARAM;
  sux_worker_t *w = calloc(1, sizeof *w);
  if (w == NULL) return UCS_ERR_NO_MEMORY;
  w->ring = calloc(config->ring_capacity, sizeof *w->ring);
  if (w->ring == NULL) {
    free(w);
    return UCS_ERR_NO_MEMORY;
  }
  w->capacity = config->ring_capacity;
  w->max_message_bytes = config->max_message_bytes;
  w->max_endpoints = config->max_endpoints;
  w->next_ep_id = 1;

  ucs_status_t status = open_context(config->transports, UCP_FEATURE_STREAM | UCP_FEATURE_WAKEUP, &w->context, &w->worker);
  if (status != UCS_OK) goto fail;
  /* The RMA side: the given transports, else "self" alone (regions still map; no peer reaches them). */
  const char *rma = config->rma_transports != NULL && config->rma_transports[0] != '\0' ? config->rma_transports : "self";
  status = open_context(rma, UCP_FEATURE_RMA | UCP_FEATURE_WAKEUP, &w->rma_context, &w->rma_worker);
  if (status != UCS_OK && strcmp(rma, "self") != 0) status = open_context("self", UCP_FEATURE_RMA | UCP_FEATURE_WAKEUP, &w->rma_context, &w->rma_worker);
  if (status != UCS_OK) goto fail_stream;
  /* With NIC-enforced keys (the caller's rma_transports name verbs), any RMA transport is a path; untested here. */
  w->intra_host = config->nic_enforced_keys ? count_printout(print_context, w->rma_context, "resource ", "--").lines > 0
                                            : context_has_intra_host(w->rma_context);
  status = ucp_worker_get_address(w->rma_worker, &w->address, &w->address_length);
  if (status != UCS_OK) goto fail_rma;
  *out = w;
  return UCS_OK;
fail_rma:
  ucp_worker_destroy(w->rma_worker);
  ucp_cleanup(w->rma_context);
fail_stream:
  ucp_worker_destroy(w->worker);
  ucp_cleanup(w->context);
fail:
  free(w->ring);
  free(w);
  return status;
}

void sux_worker_destroy(sux_worker_t *w) {
  if (w->endpoints != 0 || w->outstanding != 0) fatal("worker destroyed with live endpoints or operations");
  for (; w->count > 0; w->count--, w->head = (w->head + 1) % w->capacity) free(w->ring[w->head].kind == SUX_OP_DONE ? w->ring[w->head].data : NULL);
  ucp_worker_release_address(w->rma_worker, w->address);
  ucp_worker_destroy(w->rma_worker);
  ucp_cleanup(w->rma_context);
  ucp_worker_destroy(w->worker);
  ucp_cleanup(w->context);
  free(w->ring);
  free(w);
}

int sux_worker_efd(sux_worker_t *w, int rma) {
  int fd = -1;
  ucs_status_t status = ucp_worker_get_efd(rma ? w->rma_worker : w->worker, &fd);
  return status == UCS_OK ? fd : status;
}

/* Progresses both workers once; nonzero when either did something. */
static unsigned progress_once(sux_worker_t *w) { return ucp_worker_progress(w->worker) + ucp_worker_progress(w->rma_worker); }

static uint64_t now_ns(void) {
  struct timespec t;
  clock_gettime(CLOCK_MONOTONIC, &t);
  return (uint64_t)t.tv_sec * 1000000000u + (uint64_t)t.tv_nsec;
}

void sux_worker_progress(sux_worker_t *w, uint64_t spin_ns) {
  while (progress_once(w) != 0) {}
  if (spin_ns == 0 || w->count > 0 || w->outstanding == 0) return;
  uint64_t deadline = now_ns() + spin_ns;
  while (w->count == 0 && w->outstanding > 0 && now_ns() < deadline) progress_once(w);
  while (progress_once(w) != 0) {}
}

ucs_status_t sux_worker_arm(sux_worker_t *w) {
  ucs_status_t status = ucp_worker_arm(w->worker);
  return status == UCS_OK ? ucp_worker_arm(w->rma_worker) : status;
}

uint32_t sux_worker_drain(sux_worker_t *w, sux_entry_t *out, uint32_t max) {
  uint32_t n = 0;
  while (n < max && w->count > 0) {
    out[n++] = w->ring[w->head];
    w->head = (w->head + 1) % w->capacity;
    w->count--;
    w->reserved--;
  }
  return n;
}

uint32_t sux_worker_outstanding(const sux_worker_t *w) { return w->outstanding; }

/* ---- endpoints ---- */

static void ep_failed(void *arg, ucp_ep_h ucp_ep, ucs_status_t status) {
  (void)ucp_ep;
  sux_ep_t *ep = arg;
  if (ep->state == EP_OPEN) ep->state = EP_FAILED;
  if (ep->failure_reserved) {
    ep->failure_reserved = 0;
    push(ep->w, SUX_EP_FAILED, ep->id, status, 0, NULL);
  }
}

static sux_ep_t *ep_new(sux_worker_t *w) {
  if (w->endpoints >= w->max_endpoints) return NULL;
  if (!reserve(w, 1)) return NULL;
  sux_ep_t *ep = calloc(1, sizeof *ep);
  if (ep == NULL) {
    w->reserved--;
    return NULL;
  }
  ep->w = w;
  ep->id = w->next_ep_id++;
  ep->state = EP_OPEN;
  ep->failure_reserved = 1;
  w->endpoints++;
  return ep;
}

static void drop_cached_rkey(sux_ep_t *ep) {
  if (ep->cached_rkey == NULL || ep->cached_users > 0) return;
  ucp_rkey_destroy(ep->cached_rkey);
  free(ep->cached_packed);
  ep->cached_rkey = NULL;
  ep->cached_packed = NULL;
}

static void ep_free(sux_ep_t *ep) {
  drop_cached_rkey(ep);
  if (ep->failure_reserved) ep->w->reserved--;
  ep->w->endpoints--;
  free(ep);
}

static int resolve(const char *host, uint16_t port, int passive, struct sockaddr_storage *addr, socklen_t *length) {
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM, .ai_flags = passive ? AI_PASSIVE : 0};
  struct addrinfo *found = NULL;
  char service[8];
  snprintf(service, sizeof service, "%u", (unsigned)port);
  if (getaddrinfo(host, service, &hints, &found) != 0 || found == NULL) return SUX_ERR_BAD_ADDRESS;
  memcpy(addr, found->ai_addr, found->ai_addrlen);
  *length = found->ai_addrlen;
  freeaddrinfo(found);
  return UCS_OK;
}

int sux_connect(sux_worker_t *w, const char *host, uint16_t port, sux_ep_t **out) {
  struct sockaddr_storage addr;
  socklen_t addr_length;
  int status = resolve(host, port, 0, &addr, &addr_length);
  if (status != UCS_OK) return status;
  sux_ep_t *ep = ep_new(w);
  if (ep == NULL) return w->endpoints >= w->max_endpoints ? SUX_ERR_TOO_MANY_ENDPOINTS : SUX_ERR_RING_FULL;
  ucp_ep_params_t params = {
      .field_mask = UCP_EP_PARAM_FIELD_FLAGS | UCP_EP_PARAM_FIELD_SOCK_ADDR | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE |
                    UCP_EP_PARAM_FIELD_ERR_HANDLER,
      .flags = UCP_EP_PARAMS_FLAGS_CLIENT_SERVER,
      .sockaddr = {.addr = (struct sockaddr *)&addr, .addrlen = addr_length},
      .err_mode = UCP_ERR_HANDLING_MODE_PEER,
      .err_handler = {.cb = ep_failed, .arg = ep},
  };
  status = ucp_ep_create(w->worker, &params, &ep->ep);
  if (status != UCS_OK) {
    ep_free(ep);
    return status;
  }
  *out = ep;
  return UCS_OK;
}

/* Transports that reach only this host: what the address endpoint is for. */
static int is_intra_host_transport(const char *name, size_t length) {
  static const char *const names[] = {"posix", "sysv", "cma", "knem", "xpmem"};
  for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
    if (strlen(names[i]) == length && memcmp(names[i], name, length) == 0) return 1;
  return 0;
}

/* UCX 1.13 has no query for an endpoint's or a context's transports; their info printouts name
 * them, one line each: "lane[0]:  2:sysv/memory.0 md[1] ..." (ucp_ep_print_info) and
 * "resource 3  :  md 2  dev 2  flags -- posix/memory" (ucp_context_print_info). Counts the lines
 * that carry `marker` and, of those, the ones whose transport (the name before the '/' that
 * follows `lead` on the line) reaches only this host. */
static transport_count_t count_transports(const char *text, const char *marker, const char *lead) {
  transport_count_t count = {0, 0};
  for (const char *p = strstr(text, marker); p != NULL; p = strstr(p + 1, marker)) {
    const char *eol = strchr(p, '\n');
    const char *q = strstr(p, lead);
    if (q == NULL || (eol != NULL && q > eol)) continue;
    q += strlen(lead);
    while (*q == ' ' || (*q >= '0' && *q <= '9')) q++;
    if (*q == ':') q++;
    const char *slash = strchr(q, '/');
    if (slash == NULL || (eol != NULL && slash > eol)) continue;
    count.lines++;
    if (is_intra_host_transport(q, (size_t)(slash - q))) count.intra_host++;
  }
  return count;
}

/* Runs a UCX info printer into memory and counts its transport lines (a printout that cannot be captured counts none). */
static transport_count_t count_printout(void (*print)(void *, FILE *), void *subject, const char *marker, const char *lead) {
  transport_count_t count = {0, 0};
  char *text = NULL;
  size_t size = 0;
  FILE *f = open_memstream(&text, &size);
  if (f == NULL) return count;
  print(subject, f);
  fclose(f);
  count = count_transports(text, marker, lead);
  free(text);
  return count;
}

static void print_ep(void *ep, FILE *f) { ucp_ep_print_info(ep, f); }
static void print_context(void *context, FILE *f) { ucp_context_print_info(context, f); }

/* 1 when every lane of the endpoint is an intra-host transport (0 also when the printout is not recognised). */
static int ep_lanes_intra_host(ucp_ep_h ep) {
  transport_count_t count = count_printout(print_ep, ep, "lane[", "]:");
  return count.lines > 0 && count.intra_host == count.lines;
}

/* 1 when the context has at least one intra-host transport (shared memory or cma). */
static int context_has_intra_host(ucp_context_h context) { return count_printout(print_context, context, "resource ", "--").intra_host > 0; }

const void *sux_worker_address(const sux_worker_t *w, size_t *length) {
  *length = w->intra_host ? w->address_length : 0;
  return w->address;
}

int sux_connect_address(sux_worker_t *w, const void *address, size_t length, sux_ep_t **out, int *intra_host) {
  if (length == 0) return SUX_ERR_BAD_ADDRESS;
  if (!w->intra_host) return SUX_ERR_NOT_INTRA_HOST;
  sux_ep_t *ep = ep_new(w);
  if (ep == NULL) return w->endpoints >= w->max_endpoints ? SUX_ERR_TOO_MANY_ENDPOINTS : SUX_ERR_RING_FULL;
  ucp_ep_params_t params = {
      .field_mask = UCP_EP_PARAM_FIELD_REMOTE_ADDRESS | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE,
      .address = address,
      .err_mode = UCP_ERR_HANDLING_MODE_NONE,
  };
  int status = ucp_ep_create(w->rma_worker, &params, &ep->ep);
  if (status != UCS_OK) {
    ep_free(ep);
    return status;
  }
  *intra_host = ep_lanes_intra_host(ep->ep);
  *out = ep;
  return UCS_OK;
}

uint32_t sux_ep_id(const sux_ep_t *ep) { return ep->id; }

/* ---- listener ---- */

static void accept_connection(ucp_conn_request_h request, void *arg) {
  sux_listener_t *l = arg;
  sux_worker_t *w = l->w;
  /* The endpoint's failure entry is reserved by ep_new; its arrival needs one more. */
  if (!reserve(w, 1)) {
    ucp_listener_reject(l->listener, request);
    return;
  }
  sux_ep_t *ep = ep_new(w);
  if (ep == NULL) {
    w->reserved--;
    ucp_listener_reject(l->listener, request);
    return;
  }
  ucp_ep_params_t params = {
      .field_mask = UCP_EP_PARAM_FIELD_CONN_REQUEST | UCP_EP_PARAM_FIELD_ERR_HANDLING_MODE | UCP_EP_PARAM_FIELD_ERR_HANDLER,
      .conn_request = request,
      .err_mode = UCP_ERR_HANDLING_MODE_PEER,
      .err_handler = {.cb = ep_failed, .arg = ep},
  };
  if (ucp_ep_create(w->worker, &params, &ep->ep) != UCS_OK) {
    ep_free(ep);
    w->reserved--;
    return;
  }
  push(w, SUX_CONN, l->id, UCS_OK, 0, ep);
}

int sux_listen(sux_worker_t *w, uint32_t id, const char *host, uint16_t port, sux_listener_t **out, uint16_t *bound_port) {
  struct sockaddr_storage addr;
  socklen_t addr_length;
  int status = resolve(host, port, 1, &addr, &addr_length);
  if (status != UCS_OK) return status;
  sux_listener_t *l = calloc(1, sizeof *l);
  if (l == NULL) return UCS_ERR_NO_MEMORY;
  l->w = w;
  l->id = id;
  ucp_listener_params_t params = {
      .field_mask = UCP_LISTENER_PARAM_FIELD_SOCK_ADDR | UCP_LISTENER_PARAM_FIELD_CONN_HANDLER,
      .sockaddr = {.addr = (struct sockaddr *)&addr, .addrlen = addr_length},
      .conn_handler = {.cb = accept_connection, .arg = l},
  };
  status = ucp_listener_create(w->worker, &params, &l->listener);
  if (status != UCS_OK) {
    free(l);
    return status;
  }
  ucp_listener_attr_t attr = {.field_mask = UCP_LISTENER_ATTR_FIELD_SOCKADDR};
  status = ucp_listener_query(l->listener, &attr);
  if (status != UCS_OK) {
    ucp_listener_destroy(l->listener);
    free(l);
    return status;
  }
  const struct sockaddr *bound = (const struct sockaddr *)&attr.sockaddr;
  *bound_port = ntohs(bound->sa_family == AF_INET6 ? ((const struct sockaddr_in6 *)bound)->sin6_port
                                                   : ((const struct sockaddr_in *)bound)->sin_port);
  *out = l;
  return UCS_OK;
}

void sux_listener_destroy(sux_listener_t *l) {
  ucp_listener_destroy(l->listener);
  free(l);
}

/* ---- operations ---- */

static sux_op_t *op_new(sux_ep_t *ep, sux_op_kind_t kind, uint32_t id, int *status) {
  if (ep->state != EP_OPEN && kind != OP_CLOSE) {
    *status = SUX_ERR_CLOSED;
    return NULL;
  }
  if (!reserve(ep->w, 1)) {
    *status = SUX_ERR_RING_FULL;
    return NULL;
  }
  sux_op_t *op = calloc(1, sizeof *op);
  if (op == NULL) {
    ep->w->reserved--;
    *status = UCS_ERR_NO_MEMORY;
    return NULL;
  }
  op->kind = kind;
  op->id = id;
  op->ep = ep;
  op->status = UCS_OK;
  ep->ops++;
  ep->w->outstanding++;
  return op;
}

/* The operation's last part finished: report it (once) and free what it held. */
static void op_finish(sux_op_t *op) {
  sux_worker_t *w = op->ep->w;
  if (op->rkey != NULL) ucp_rkey_destroy(op->rkey);
  if (op->uses_cached) {
    op->ep->cached_users--;
    if (op->ep->state == EP_CLOSING) drop_cached_rkey(op->ep);
  }
  if (op->status != UCS_OK && op->body != NULL) {
    free(op->body);
    op->body = NULL;
  }
  push(w, SUX_OP_DONE, op->id, op->status, op->length, op->body);
  w->outstanding--;
  sux_ep_t *ep = op->ep;
  ep->ops--;
  if (op->kind == OP_CLOSE) ep->close_done = 1;
  if (ep->close_done && ep->ops == 0) ep_free(ep);
  free(op);
}

static void part_done(sux_op_t *op, ucs_status_t status) {
  if (status != UCS_OK && op->status == UCS_OK) op->status = status;
  if (--op->parts == 0) op_finish(op);
}

/* Accounts for what a UCX call returned: a request (the callback will run), NULL (done now) or an error. */
static void track(sux_op_t *op, ucs_status_ptr_t request, void (*done)(sux_op_t *, ucs_status_t)) {
  op->parts++;
  if (request == NULL) done(op, UCS_OK);
  else if (UCS_PTR_IS_ERR(request)) done(op, UCS_PTR_STATUS(request));
}

static void send_callback(void *request, ucs_status_t status, void *user) {
  part_done(user, status);
  ucp_request_free(request);
}

static ucp_request_param_t send_param(sux_op_t *op) {
  ucp_request_param_t p = {
      .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA,
      .cb = {.send = send_callback},
      .user_data = op,
  };
  return p;
}

int sux_ep_flush(sux_ep_t *ep, uint32_t id) {
  int status;
  sux_op_t *op = op_new(ep, OP_PLAIN, id, &status);
  if (op == NULL) return status;
  ucp_request_param_t p = send_param(op);
  op->parts = 1; /* held until every call is posted, so no part finishes the op early */
  track(op, ucp_ep_flush_nbx(ep->ep, &p), part_done);
  part_done(op, UCS_OK);
  return UCS_OK;
}

int sux_ep_send(sux_ep_t *ep, uint32_t id, const void *data, size_t length) {
  if (length > ep->w->max_message_bytes) return SUX_ERR_TOO_LARGE;
  int status;
  sux_op_t *op = op_new(ep, OP_SEND, id, &status);
  if (op == NULL) return status;
  uint32_t n = (uint32_t)length;
  uint8_t *h = (uint8_t *)&op->header;
  h[0] = n & 0xff, h[1] = (n >> 8) & 0xff, h[2] = (n >> 16) & 0xff, h[3] = (n >> 24) & 0xff;
  ucp_request_param_t p = send_param(op);
  op->parts = 1;
  track(op, ucp_stream_send_nbx(ep->ep, &op->header, 4, &p), part_done);
  if (length > 0 && op->status == UCS_OK) track(op, ucp_stream_send_nbx(ep->ep, data, length, &p), part_done);
  part_done(op, UCS_OK);
  return UCS_OK;
}

static void receive_step(sux_op_t *op, ucs_status_t status, size_t length);

static void receive_callback(void *request, ucs_status_t status, size_t length, void *user) {
  ucp_request_free(request);
  receive_step(user, status, length);
}

static void post_receive(sux_op_t *op, void *into, size_t length) {
  ucp_request_param_t p = {
      .op_attr_mask = UCP_OP_ATTR_FIELD_CALLBACK | UCP_OP_ATTR_FIELD_USER_DATA | UCP_OP_ATTR_FIELD_FLAGS,
      .cb = {.recv_stream = receive_callback},
      .user_data = op,
      .flags = UCP_STREAM_RECV_FLAG_WAITALL,
  };
  size_t received = 0;
  ucs_status_ptr_t request = ucp_stream_recv_nbx(op->ep->ep, into, length, &received, &p);
  if (request == NULL) receive_step(op, UCS_OK, received);
  else if (UCS_PTR_IS_ERR(request)) receive_step(op, UCS_PTR_STATUS(request), 0);
}

/* A receive is a two-step state machine: the 4-byte length prefix, then (if any) the body. */
static void receive_step(sux_op_t *op, ucs_status_t status, size_t length) {
  (void)length;
  if (status != UCS_OK) {
    op->status = status;
    op_finish(op);
    return;
  }
  if (op->body != NULL) { /* the body arrived */
    op_finish(op);
    return;
  }
  const uint8_t *h = (const uint8_t *)&op->header;
  uint64_t n = (uint64_t)h[0] | ((uint64_t)h[1] << 8) | ((uint64_t)h[2] << 16) | ((uint64_t)h[3] << 24);
  if (n > op->max_bytes) {
    op->status = SUX_ERR_TOO_LARGE;
    op_finish(op);
    return;
  }
  if (n == 0) {
    op->length = 0;
    op_finish(op);
    return;
  }
  op->body = malloc(n);
  if (op->body == NULL) {
    op->status = UCS_ERR_NO_MEMORY;
    op_finish(op);
    return;
  }
  op->length = n;
  post_receive(op, op->body, n);
}

int sux_ep_receive(sux_ep_t *ep, uint32_t id, uint64_t max_bytes) {
  int status;
  sux_op_t *op = op_new(ep, OP_RECEIVE, id, &status);
  if (op == NULL) return status;
  op->max_bytes = max_bytes != 0 ? max_bytes : ep->w->max_message_bytes;
  post_receive(op, &op->header, 4);
  return UCS_OK;
}

int sux_ep_get(sux_ep_t *ep, uint32_t id, void *local, size_t length, uint64_t remote_address, const void *packed_rkey, size_t packed_length) {
  int status;
  sux_op_t *op = op_new(ep, OP_GET, id, &status);
  if (op == NULL) return status;
  op->parts = 1;
  ucp_rkey_h rkey = NULL;
  if (ep->cached_rkey != NULL && ep->cached_length == packed_length && memcmp(ep->cached_packed, packed_rkey, packed_length) == 0) {
    rkey = ep->cached_rkey;
  } else {
    drop_cached_rkey(ep);
    ucs_status_t unpacked = ucp_ep_rkey_unpack(ep->ep, packed_rkey, &rkey);
    if (unpacked != UCS_OK) {
      part_done(op, unpacked);
      return UCS_OK;
    }
    void *copy = ep->cached_rkey == NULL ? malloc(packed_length) : NULL;
    if (copy != NULL) {
      memcpy(copy, packed_rkey, packed_length);
      ep->cached_rkey = rkey;
      ep->cached_packed = copy;
      ep->cached_length = packed_length;
    } else {
      op->rkey = rkey; /* the cache is busy with another key: this one lives for this get only */
    }
  }
  if (rkey == ep->cached_rkey) {
    op->uses_cached = 1;
    ep->cached_users++;
  }
  ucp_request_param_t p = send_param(op);
  track(op, ucp_get_nbx(ep->ep, local, length, remote_address, rkey, &p), part_done);
  part_done(op, UCS_OK);
  return UCS_OK;
}

int sux_ep_close(sux_ep_t *ep, uint32_t id, int force) {
  if (ep->state == EP_CLOSING) return SUX_ERR_CLOSED;
  int status;
  sux_op_t *op = op_new(ep, OP_CLOSE, id, &status);
  if (op == NULL) return status;
  if (ep->state == EP_FAILED) force = 1;
  ep->state = EP_CLOSING;
  drop_cached_rkey(ep); /* before UCX closes the endpoint, unless a get still uses it (then when that get ends) */
  ucp_request_param_t p = send_param(op);
  p.op_attr_mask |= UCP_OP_ATTR_FIELD_FLAGS;
  p.flags = force ? UCP_EP_CLOSE_FLAG_FORCE : 0;
  op->parts = 1;
  track(op, ucp_ep_close_nbx(ep->ep, &p), part_done);
  part_done(op, UCS_OK);
  return UCS_OK;
}

/* ---- memory ---- */

int sux_mem_map(sux_worker_t *w, void *address, size_t length, sux_mem_t **out) {
  sux_mem_t *m = calloc(1, sizeof *m);
  if (m == NULL) return UCS_ERR_NO_MEMORY;
  m->w = w;
  /* Peers only ever get from a region (sux has no put): no remote write access, which the NIC
   * enforces on InfiniBand/RoCE (UCX's default registration also allows remote write and atomics). */
  ucp_mem_map_params_t params = {
      .field_mask = UCP_MEM_MAP_PARAM_FIELD_ADDRESS | UCP_MEM_MAP_PARAM_FIELD_LENGTH | UCP_MEM_MAP_PARAM_FIELD_FLAGS |
                    UCP_MEM_MAP_PARAM_FIELD_PROT,
      .address = address,
      .length = length,
      .flags = address == NULL ? UCP_MEM_MAP_ALLOCATE : 0,
      .prot = UCP_MEM_MAP_PROT_LOCAL_READ | UCP_MEM_MAP_PROT_LOCAL_WRITE | UCP_MEM_MAP_PROT_REMOTE_READ,
  };
  ucs_status_t status = ucp_mem_map(w->rma_context, &params, &m->memh);
  if (status != UCS_OK) {
    free(m);
    return status;
  }
  ucp_mem_attr_t attr = {.field_mask = UCP_MEM_ATTR_FIELD_ADDRESS | UCP_MEM_ATTR_FIELD_LENGTH};
  status = ucp_mem_query(m->memh, &attr);
  if (status == UCS_OK) status = ucp_rkey_pack(w->rma_context, m->memh, &m->rkey, &m->rkey_length);
  if (status != UCS_OK) {
    ucp_mem_unmap(w->rma_context, m->memh);
    free(m);
    return status;
  }
  m->address = attr.address;
  m->length = length;
  *out = m;
  return UCS_OK;
}

void *sux_mem_address(const sux_mem_t *m) { return m->address; }

const void *sux_mem_rkey(const sux_mem_t *m, size_t *length) {
  *length = m->rkey_length;
  return m->rkey;
}

void sux_mem_unmap(sux_mem_t *m) {
  ucp_rkey_buffer_release(m->rkey);
  ucp_mem_unmap(m->w->rma_context, m->memh);
  free(m);
}
