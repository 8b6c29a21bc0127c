/*
 * peerCred(fd) -> {pid, uid, gid}: the credentials the kernel recorded for the peer of a
 * connected Unix stream socket when it called connect() (getsockopt SO_PEERCRED, Linux).
 * Node exposes no such call; the npm packages that do are unmaintained or cannot (see
 * docs/clients.md, "The local socket"). N-API only, so it loads in any Node >= 12.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <node_api.h>

static napi_value set_num(napi_env env, napi_value obj, const char *key, double n) {
  napi_value v;
  if (napi_create_double(env, n, &v) != napi_ok) return NULL;
  if (napi_set_named_property(env, obj, key, v) != napi_ok) return NULL;
  return obj;
}

static napi_value peer_cred(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  int32_t fd;
  napi_valuetype t;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok) return NULL;
  if (argc < 1 || napi_typeof(env, argv[0], &t) != napi_ok || t != napi_number ||
      napi_get_value_int32(env, argv[0], &fd) != napi_ok || fd < 0) {
    napi_throw_type_error(env, NULL, "peerCred: fd must be a non-negative integer");
    return NULL;
  }
  struct ucred c;
  socklen_t len = sizeof c;
  memset(&c, 0, sizeof c);
  if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &c, &len) != 0) {
    napi_throw_error(env, "ERR_PEERCRED", strerror(errno));
    return NULL;
  }
  if (len != sizeof c) {
    napi_throw_error(env, "ERR_PEERCRED", "short SO_PEERCRED answer");
    return NULL;
  }
  napi_value obj;
  if (napi_create_object(env, &obj) != napi_ok) return NULL;
  if (!set_num(env, obj, "pid", c.pid) || !set_num(env, obj, "uid", c.uid) || !set_num(env, obj, "gid", c.gid)) return NULL;
  return obj;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "peerCred", NAPI_AUTO_LENGTH, peer_cred, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "peerCred", fn) != napi_ok) return NULL;
  return exports;
}
