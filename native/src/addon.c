/*
 * The Node-API face of sux (sux.h): handles are napi externals, the completion ring is drained
 * into plain arrays, and a helper thread provides the wake. That thread never touches UCX's
 * state: once JavaScript has armed the worker (ucp_worker_arm returned UCS_OK), it waits on the
 * worker's event fd with epoll and calls one napi_threadsafe_function (coalesced: at most one
 * wake per arm), and the JavaScript thread then progresses the worker and drains the ring. No
 * libuv (uv_poll does not exist in Bun). The same .node file loads in Node, Bun and Deno.
 */
#define NAPI_VERSION 8
#define _GNU_SOURCE
#include <node_api.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include "sux.h"

typedef struct addon_worker {
  sux_worker_t *sux;
  napi_threadsafe_function wake;
  pthread_t thread;
  int epoll_fd, stop_fd;
  pthread_mutex_t mutex;
  pthread_cond_t cond;
  int armed, stopping;
  sux_entry_t *scratch;
  uint32_t scratch_capacity;
} addon_worker_t;

#define CHECK(call)                                                                                                    \
  do {                                                                                                                 \
    if ((call) != napi_ok) return throw_last(env, #call);                                                              \
  } while (0)

static napi_value throw_last(napi_env env, const char *what) {
  const napi_extended_error_info *info = NULL;
  napi_get_last_error_info(env, &info);
  bool pending = false;
  napi_is_exception_pending(env, &pending);
  if (!pending) napi_throw_error(env, "STRATA_UCX_NAPI", info != NULL && info->error_message != NULL ? info->error_message : what);
  return NULL;
}

static napi_value throw_message(napi_env env, const char *message) {
  napi_throw_error(env, "STRATA_UCX_NAPI", message);
  return NULL;
}

static napi_value make_int(napi_env env, int64_t v) {
  napi_value out;
  napi_create_int64(env, v, &out);
  return out;
}

static napi_value make_undefined(napi_env env) {
  napi_value out;
  napi_get_undefined(env, &out);
  return out;
}

static int get_args(napi_env env, napi_callback_info info, size_t want, napi_value *argv) {
  size_t argc = want;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < want) {
    napi_throw_type_error(env, "STRATA_UCX_NAPI", "missing arguments");
    return 0;
  }
  return 1;
}

static void *external(napi_env env, napi_value v) {
  void *p = NULL;
  if (napi_get_value_external(env, v, &p) != napi_ok || p == NULL) {
    napi_throw_type_error(env, "STRATA_UCX_NAPI", "expected a native handle");
    return NULL;
  }
  return p;
}

static int get_u32(napi_env env, napi_value v, uint32_t *out) {
  if (napi_get_value_uint32(env, v, out) != napi_ok) {
    napi_throw_type_error(env, "STRATA_UCX_NAPI", "expected a number");
    return 0;
  }
  return 1;
}

static int get_string(napi_env env, napi_value v, char *out, size_t size) {
  size_t length = 0;
  if (napi_get_value_string_utf8(env, v, out, size, &length) != napi_ok || length + 1 >= size) {
    napi_throw_type_error(env, "STRATA_UCX_NAPI", "expected a short string");
    return 0;
  }
  return 1;
}

/* The bytes of a Uint8Array argument. */
static int get_bytes(napi_env env, napi_value v, uint8_t **data, size_t *length) {
  napi_typedarray_type type;
  napi_value buffer;
  size_t offset;
  void *p = NULL;
  if (napi_get_typedarray_info(env, v, &type, length, &p, &buffer, &offset) != napi_ok || type != napi_uint8_array) {
    napi_throw_type_error(env, "STRATA_UCX_NAPI", "expected a Uint8Array");
    return 0;
  }
  *data = p;
  return 1;
}

/* ---- the wake ---- */

static void *wake_thread(void *arg) {
  addon_worker_t *w = arg;
  for (;;) {
    pthread_mutex_lock(&w->mutex);
    while (!w->armed && !w->stopping) pthread_cond_wait(&w->cond, &w->mutex);
    int stopping = w->stopping;
    pthread_mutex_unlock(&w->mutex);
    if (stopping) break;
    struct epoll_event events[3];
    int n = epoll_wait(w->epoll_fd, events, 3, -1);
    if (n < 0) continue; /* EINTR */
    for (int i = 0; i < n; i++)
      if (events[i].data.fd == w->stop_fd) return NULL;
    pthread_mutex_lock(&w->mutex);
    w->armed = 0;
    pthread_mutex_unlock(&w->mutex);
    napi_call_threadsafe_function(w->wake, NULL, napi_tsfn_nonblocking);
  }
  return NULL;
}

static void call_wake(napi_env env, napi_value callback, void *context, void *data) {
  (void)context, (void)data;
  if (env == NULL || callback == NULL) return;
  napi_value global;
  napi_get_global(env, &global);
  napi_call_function(env, global, callback, 0, NULL, NULL);
}

/* ---- worker ---- */

/* An optional string argument into out; *present says whether it was a string. */
static int get_optional_string(napi_env env, napi_value v, char *out, size_t size, int *present) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) return 0;
  *present = type == napi_string;
  return !*present || get_string(env, v, out, size);
}

/* workerCreate(transports: string | undefined, rmaTransports: string | undefined, nicEnforcedKeys: boolean, ringCapacity,
 *              maxMessageBytes, maxEndpoints, wake: () => void) */
static napi_value worker_create(napi_env env, napi_callback_info info) {
  napi_value argv[7];
  if (!get_args(env, info, 7, argv)) return NULL;
  char transports[256], rma_transports[256];
  int has_transports, has_rma_transports;
  if (!get_optional_string(env, argv[0], transports, sizeof transports, &has_transports) ||
      !get_optional_string(env, argv[1], rma_transports, sizeof rma_transports, &has_rma_transports))
    return NULL;
  uint32_t ring_capacity, max_endpoints;
  int64_t max_message;
  bool nic_enforced_keys;
  CHECK(napi_get_value_bool(env, argv[2], &nic_enforced_keys));
  if (!get_u32(env, argv[3], &ring_capacity) || !get_u32(env, argv[5], &max_endpoints)) return NULL;
  CHECK(napi_get_value_int64(env, argv[4], &max_message));
  addon_worker_t *w = calloc(1, sizeof *w);
  if (w == NULL) return throw_message(env, "out of memory");
  w->scratch_capacity = ring_capacity;
  w->scratch = calloc(ring_capacity, sizeof *w->scratch);
  sux_worker_config_t config = {
      .transports = has_transports ? transports : NULL,
      .rma_transports = has_rma_transports ? rma_transports : NULL,
      .nic_enforced_keys = has_rma_transports && nic_enforced_keys,
      .ring_capacity = ring_capacity,
      .max_message_bytes = (uint64_t)max_message,
      .max_endpoints = max_endpoints,
  };
  int status = w->scratch == NULL ? UCS_ERR_NO_MEMORY : sux_worker_create(&config, &w->sux);
  if (status != UCS_OK) {
    free(w->scratch);
    free(w);
    napi_value error = make_int(env, status);
    napi_value message;
    napi_create_string_utf8(env, sux_status_string(status), NAPI_AUTO_LENGTH, &message);
    napi_value out;
    napi_create_array_with_length(env, 2, &out);
    napi_set_element(env, out, 0, error);
    napi_set_element(env, out, 1, message);
    return out;
  }
  w->epoll_fd = epoll_create1(EPOLL_CLOEXEC);
  w->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
  for (int rma = 0; rma <= 1; rma++) { /* the stream worker's and the RMA worker's event fds */
    int efd = sux_worker_efd(w->sux, rma);
    struct epoll_event ev = {.events = EPOLLIN, .data.fd = efd};
    epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, efd, &ev);
  }
  struct epoll_event stop = {.events = EPOLLIN, .data.fd = w->stop_fd};
  epoll_ctl(w->epoll_fd, EPOLL_CTL_ADD, w->stop_fd, &stop);
  pthread_mutex_init(&w->mutex, NULL);
  pthread_cond_init(&w->cond, NULL);
  napi_value name;
  napi_create_string_utf8(env, "strata-ucx-wake", NAPI_AUTO_LENGTH, &name);
  CHECK(napi_create_threadsafe_function(env, argv[6], NULL, name, 0, 1, NULL, NULL, NULL, call_wake, &w->wake));
  pthread_create(&w->thread, NULL, wake_thread, w);
  napi_value out;
  CHECK(napi_create_external(env, w, NULL, NULL, &out));
  return out;
}

/* workerDestroy(worker): stops the wake thread and destroys the worker (everything on it must be closed). */
static napi_value worker_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  if (w == NULL) return NULL;
  pthread_mutex_lock(&w->mutex);
  w->stopping = 1;
  pthread_cond_signal(&w->cond);
  pthread_mutex_unlock(&w->mutex);
  uint64_t one = 1;
  if (write(w->stop_fd, &one, sizeof one) < 0) { /* the thread still sees stopping at its next check */ }
  pthread_join(w->thread, NULL);
  napi_release_threadsafe_function(w->wake, napi_tsfn_abort);
  close(w->epoll_fd);
  close(w->stop_fd);
  sux_worker_destroy(w->sux);
  free(w->scratch);
  pthread_mutex_destroy(&w->mutex);
  pthread_cond_destroy(&w->cond);
  free(w);
  return make_undefined(env);
}

/* workerKeepAlive(worker, bool): whether the pending wake keeps the event loop alive. */
static napi_value worker_keep_alive(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  if (w == NULL) return NULL;
  bool on;
  CHECK(napi_get_value_bool(env, argv[1], &on));
  CHECK(on ? napi_ref_threadsafe_function(env, w->wake) : napi_unref_threadsafe_function(env, w->wake));
  return make_undefined(env);
}

/* workerArm(worker) -> true when armed (a wake will come), false when events are pending. */
static napi_value worker_arm(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  if (w == NULL) return NULL;
  pthread_mutex_lock(&w->mutex);
  int already = w->armed;
  pthread_mutex_unlock(&w->mutex);
  napi_value out;
  if (already) {
    napi_get_boolean(env, true, &out);
    return out;
  }
  ucs_status_t status = sux_worker_arm(w->sux);
  if (status == UCS_OK) {
    pthread_mutex_lock(&w->mutex);
    w->armed = 1;
    pthread_cond_signal(&w->cond);
    pthread_mutex_unlock(&w->mutex);
  }
  napi_get_boolean(env, status == UCS_OK, &out);
  return out;
}

static void free_message(napi_env env, void *data, void *hint) {
  (void)env, (void)hint;
  free(data);
}

/* The received message as an ArrayBuffer that owns the malloc'd bytes (copied where externals are not allowed). */
static napi_value message_buffer(napi_env env, void *data, size_t length) {
  napi_value out;
  if (data == NULL) {
    napi_create_arraybuffer(env, 0, NULL, &out);
    return out;
  }
  if (napi_create_external_arraybuffer(env, data, length, free_message, NULL, &out) == napi_ok) return out;
  void *copy = NULL;
  napi_create_arraybuffer(env, length, &copy, &out);
  memcpy(copy, data, length);
  free(data);
  return out;
}

/* workerPump(worker, spinNs) -> [[kind, ref, status, length, payload, endpointId], ...] */
static napi_value worker_pump(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  if (w == NULL) return NULL;
  int64_t spin_ns;
  CHECK(napi_get_value_int64(env, argv[1], &spin_ns));
  sux_worker_progress(w->sux, spin_ns > 0 ? (uint64_t)spin_ns : 0);
  uint32_t n = sux_worker_drain(w->sux, w->scratch, w->scratch_capacity);
  napi_value out;
  CHECK(napi_create_array_with_length(env, n, &out));
  for (uint32_t i = 0; i < n; i++) {
    sux_entry_t *e = &w->scratch[i];
    napi_value entry, payload, endpoint_id;
    napi_create_array_with_length(env, 6, &entry);
    napi_get_null(env, &payload);
    napi_get_null(env, &endpoint_id);
    if (e->kind == SUX_OP_DONE && e->status == UCS_OK) payload = message_buffer(env, e->data, e->length);
    if (e->kind == SUX_CONN) {
      napi_create_external(env, e->data, NULL, NULL, &payload);
      endpoint_id = make_int(env, sux_ep_id(e->data));
    }
    napi_set_element(env, entry, 0, make_int(env, e->kind));
    napi_set_element(env, entry, 1, make_int(env, e->ref));
    napi_set_element(env, entry, 2, make_int(env, e->status));
    napi_set_element(env, entry, 3, make_int(env, (int64_t)e->length));
    napi_set_element(env, entry, 4, payload);
    napi_set_element(env, entry, 5, endpoint_id);
    napi_set_element(env, out, i, entry);
  }
  return out;
}

/* ---- listener and endpoints ---- */

/* listen(worker, id, host, port) -> [status, listener, boundPort] */
static napi_value listen_(napi_env env, napi_callback_info info) {
  napi_value argv[4];
  if (!get_args(env, info, 4, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  char host[256];
  uint32_t id, port;
  if (w == NULL || !get_u32(env, argv[1], &id) || !get_string(env, argv[2], host, sizeof host) || !get_u32(env, argv[3], &port)) return NULL;
  sux_listener_t *l = NULL;
  uint16_t bound = 0;
  int status = sux_listen(w->sux, id, host, (uint16_t)port, &l, &bound);
  napi_value out, handle;
  napi_create_array_with_length(env, 3, &out);
  napi_set_element(env, out, 0, make_int(env, status));
  if (status == UCS_OK) {
    napi_create_external(env, l, NULL, NULL, &handle);
    napi_set_element(env, out, 1, handle);
    napi_set_element(env, out, 2, make_int(env, bound));
  }
  return out;
}

static napi_value listener_destroy(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  sux_listener_t *l = external(env, argv[0]);
  if (l == NULL) return NULL;
  sux_listener_destroy(l);
  return make_undefined(env);
}

/* [status, endpoint, endpointId] (the last two when status is UCS_OK), with room for `extra` more elements. */
static napi_value connect_result(napi_env env, int status, sux_ep_t *ep, uint32_t extra) {
  napi_value out, handle;
  napi_create_array_with_length(env, 3 + extra, &out);
  napi_set_element(env, out, 0, make_int(env, status));
  if (status == UCS_OK) {
    napi_create_external(env, ep, NULL, NULL, &handle);
    napi_set_element(env, out, 1, handle);
    napi_set_element(env, out, 2, make_int(env, sux_ep_id(ep)));
  }
  return out;
}

/* connect(worker, host, port) -> [status, endpoint, endpointId] */
static napi_value connect_(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  char host[256];
  uint32_t port;
  if (w == NULL || !get_string(env, argv[1], host, sizeof host) || !get_u32(env, argv[2], &port)) return NULL;
  sux_ep_t *ep = NULL;
  int status = sux_connect(w->sux, host, (uint16_t)port, &ep);
  return connect_result(env, status, ep, 0);
}

/* workerAddress(worker) -> ArrayBuffer: this worker's UCP address (a copy). */
static napi_value worker_address(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  if (w == NULL) return NULL;
  size_t length;
  const void *address = sux_worker_address(w->sux, &length);
  napi_value out;
  void *copy;
  CHECK(napi_create_arraybuffer(env, length, &copy, &out));
  memcpy(copy, address, length);
  return out;
}

/* connectAddress(worker, address: Uint8Array) -> [status, endpoint, endpointId, every lane intra-host] */
static napi_value connect_address(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  uint8_t *address;
  size_t length;
  if (w == NULL || !get_bytes(env, argv[1], &address, &length)) return NULL;
  sux_ep_t *ep = NULL;
  int intra_host = 0;
  int status = sux_connect_address(w->sux, address, length, &ep, &intra_host);
  napi_value out = connect_result(env, status, ep, 1), intra;
  if (status == UCS_OK) {
    napi_get_boolean(env, intra_host != 0, &intra);
    napi_set_element(env, out, 3, intra);
  }
  return out;
}

/* epFlush(ep, op) -> status */
static napi_value ep_flush(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  sux_ep_t *ep = external(env, argv[0]);
  uint32_t op;
  if (ep == NULL || !get_u32(env, argv[1], &op)) return NULL;
  return make_int(env, sux_ep_flush(ep, op));
}

/* epReceive(ep, op, maxBytes?): maxBytes 0 or absent is the worker's maxMessageBytes. */
static napi_value ep_receive(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  size_t argc = 3;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc < 2) return throw_message(env, "missing arguments");
  sux_ep_t *ep = external(env, argv[0]);
  uint32_t op;
  int64_t max_bytes = 0;
  if (ep == NULL || !get_u32(env, argv[1], &op)) return NULL;
  if (argc >= 3) CHECK(napi_get_value_int64(env, argv[2], &max_bytes));
  return make_int(env, sux_ep_receive(ep, op, max_bytes > 0 ? (uint64_t)max_bytes : 0));
}

/* epSend(ep, op, bytes) -> status; the caller keeps bytes referenced until the op completes. */
static napi_value ep_send(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  sux_ep_t *ep = external(env, argv[0]);
  uint32_t op;
  uint8_t *data;
  size_t length;
  if (ep == NULL || !get_u32(env, argv[1], &op) || !get_bytes(env, argv[2], &data, &length)) return NULL;
  return make_int(env, sux_ep_send(ep, op, data, length));
}

/* epGet(ep, op, into: Uint8Array (exactly the destination), remoteAddress: bigint, packedRkey: Uint8Array) -> status */
static napi_value ep_get(napi_env env, napi_callback_info info) {
  napi_value argv[5];
  if (!get_args(env, info, 5, argv)) return NULL;
  sux_ep_t *ep = external(env, argv[0]);
  uint32_t op;
  uint8_t *into, *rkey;
  size_t length, rkey_length;
  uint64_t remote;
  bool lossless;
  if (ep == NULL || !get_u32(env, argv[1], &op) || !get_bytes(env, argv[2], &into, &length) || !get_bytes(env, argv[4], &rkey, &rkey_length)) return NULL;
  CHECK(napi_get_value_bigint_uint64(env, argv[3], &remote, &lossless));
  return make_int(env, sux_ep_get(ep, op, into, length, remote, rkey, rkey_length));
}

/* epClose(ep, op, force) -> status; the endpoint handle is invalid once op completes. */
static napi_value ep_close(napi_env env, napi_callback_info info) {
  napi_value argv[3];
  if (!get_args(env, info, 3, argv)) return NULL;
  sux_ep_t *ep = external(env, argv[0]);
  uint32_t op;
  bool force;
  if (ep == NULL || !get_u32(env, argv[1], &op)) return NULL;
  CHECK(napi_get_value_bool(env, argv[2], &force));
  return make_int(env, sux_ep_close(ep, op, force));
}

/* ---- memory ---- */

static napi_value mem_result(napi_env env, int status, sux_mem_t *m, napi_value bytes) {
  napi_value out;
  napi_create_array_with_length(env, 4, &out);
  napi_set_element(env, out, 0, make_int(env, status));
  if (status != UCS_OK) return out;
  napi_value handle, address, rkey;
  napi_create_external(env, m, NULL, NULL, &handle);
  napi_create_bigint_uint64(env, (uint64_t)(uintptr_t)sux_mem_address(m), &address);
  size_t rkey_length;
  const void *packed = sux_mem_rkey(m, &rkey_length);
  void *copy;
  napi_create_arraybuffer(env, rkey_length, &copy, &rkey);
  memcpy(copy, packed, rkey_length);
  napi_set_element(env, out, 1, handle);
  napi_set_element(env, out, 2, address);
  napi_set_element(env, out, 3, rkey);
  if (bytes != NULL) napi_set_element(env, out, 4, bytes);
  return out;
}

/* memAllocate(worker, length) -> [status, mem, address, rkey, ArrayBuffer over the mapped memory] */
static napi_value mem_allocate(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  int64_t length;
  if (w == NULL) return NULL;
  CHECK(napi_get_value_int64(env, argv[1], &length));
  if (length <= 0) return throw_message(env, "length must be positive");
  sux_mem_t *m = NULL;
  int status = sux_mem_map(w->sux, NULL, (size_t)length, &m);
  napi_value bytes = NULL;
  if (status == UCS_OK && napi_create_external_arraybuffer(env, sux_mem_address(m), (size_t)length, NULL, NULL, &bytes) != napi_ok) {
    sux_mem_unmap(m);
    return throw_last(env, "external ArrayBuffers are not allowed in this runtime");
  }
  return mem_result(env, status, m, bytes);
}

/* memRegister(worker, bytes: Uint8Array) -> [status, mem, address, rkey] */
static napi_value mem_register(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  addon_worker_t *w = external(env, argv[0]);
  uint8_t *data;
  size_t length;
  if (w == NULL || !get_bytes(env, argv[1], &data, &length)) return NULL;
  if (length == 0) return throw_message(env, "cannot register empty memory");
  sux_mem_t *m = NULL;
  int status = sux_mem_map(w->sux, data, length, &m);
  return mem_result(env, status, m, NULL);
}

/* memRelease(mem, arrayBuffer | undefined): detaches the allocated region's ArrayBuffer (so no view outlives the memory) and unmaps. */
static napi_value mem_release(napi_env env, napi_callback_info info) {
  napi_value argv[2];
  if (!get_args(env, info, 2, argv)) return NULL;
  sux_mem_t *m = external(env, argv[0]);
  if (m == NULL) return NULL;
  napi_valuetype type;
  CHECK(napi_typeof(env, argv[1], &type));
  if (type == napi_object) CHECK(napi_detach_arraybuffer(env, argv[1]));
  sux_mem_unmap(m);
  return make_undefined(env);
}

/* ---- misc ---- */

static napi_value version(napi_env env, napi_callback_info info) {
  (void)info;
  napi_value out;
  napi_create_string_utf8(env, ucp_get_version_string(), NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value status_string(napi_env env, napi_callback_info info) {
  napi_value argv[1];
  if (!get_args(env, info, 1, argv)) return NULL;
  int32_t status;
  CHECK(napi_get_value_int32(env, argv[0], &status));
  napi_value out;
  napi_create_string_utf8(env, sux_status_string(status), NAPI_AUTO_LENGTH, &out);
  return out;
}

static napi_value init(napi_env env, napi_value exports) {
  const napi_property_descriptor functions[] = {
      {"version", NULL, version, NULL, NULL, NULL, napi_enumerable, NULL},
      {"statusString", NULL, status_string, NULL, NULL, NULL, napi_enumerable, NULL},
      {"workerCreate", NULL, worker_create, NULL, NULL, NULL, napi_enumerable, NULL},
      {"workerDestroy", NULL, worker_destroy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"workerKeepAlive", NULL, worker_keep_alive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"workerArm", NULL, worker_arm, NULL, NULL, NULL, napi_enumerable, NULL},
      {"workerPump", NULL, worker_pump, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listen", NULL, listen_, NULL, NULL, NULL, napi_enumerable, NULL},
      {"listenerDestroy", NULL, listener_destroy, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connect", NULL, connect_, NULL, NULL, NULL, napi_enumerable, NULL},
      {"workerAddress", NULL, worker_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"connectAddress", NULL, connect_address, NULL, NULL, NULL, napi_enumerable, NULL},
      {"epFlush", NULL, ep_flush, NULL, NULL, NULL, napi_enumerable, NULL},
      {"epSend", NULL, ep_send, NULL, NULL, NULL, napi_enumerable, NULL},
      {"epReceive", NULL, ep_receive, NULL, NULL, NULL, napi_enumerable, NULL},
      {"epGet", NULL, ep_get, NULL, NULL, NULL, napi_enumerable, NULL},
      {"epClose", NULL, ep_close, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memAllocate", NULL, mem_allocate, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memRegister", NULL, mem_register, NULL, NULL, NULL, napi_enumerable, NULL},
      {"memRelease", NULL, mem_release, NULL, NULL, NULL, napi_enumerable, NULL},
  };
  napi_define_properties(env, exports, sizeof functions / sizeof functions[0], functions);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, init)
