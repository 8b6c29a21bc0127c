/*
 * Memory the daemon gives back (src/heap.ts):
 * - lowMemory(): V8's memory-reducing full collection (Isolate::LowMemoryNotification), which
 *   returns the young generation grown during start-up and the old-space pages start-up's
 *   garbage filled, then malloc_trim: the free pages in malloc's arenas. V8 runs such a
 *   collection by itself only after ~8 s without allocation; Node has no call for it.
 * - at load, glibc's mmap threshold is fixed at its default (128 KiB). Left dynamic, glibc raises
 *   it to the size of the largest block freed: a login's scrypt frees 16 MiB on a thread-pool
 *   thread, after which each thread that hashes keeps 16 MiB in its arena for good (eight
 *   concurrent logins: +64 MiB RSS).
 * N-API registers the functions; the V8 call needs the running node's own headers (make build).
 */
#include <malloc.h>
#include <node_api.h>
#include <v8.h>

static napi_value low_memory(napi_env, napi_callback_info) {
  v8::Isolate::GetCurrent()->LowMemoryNotification();
  malloc_trim(0); // and the pages of what that freed (backing stores, buffers) in malloc's arenas
  return nullptr;
}

NAPI_MODULE_INIT() {
  mallopt(M_MMAP_THRESHOLD, 128 * 1024);
  napi_value fn;
  if (napi_create_function(env, "lowMemory", NAPI_AUTO_LENGTH, low_memory, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "lowMemory", fn) != napi_ok) return nullptr;
  return exports;
}
