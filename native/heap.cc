/*
 * lowMemory(): V8's memory-reducing full collection (Isolate::LowMemoryNotification), which
 * gives back the young generation grown during start-up and the old-space pages start-up's
 * garbage filled. V8 runs one by itself only after ~8 s without allocation, and Node has no
 * call for it. Registered through N-API; the one V8 call needs the running node's own headers
 * (make build compiles it against them).
 */
#include <node_api.h>
#include <v8.h>

static napi_value low_memory(napi_env, napi_callback_info) {
  v8::Isolate::GetCurrent()->LowMemoryNotification();
  return nullptr;
}

NAPI_MODULE_INIT() {
  napi_value fn;
  if (napi_create_function(env, "lowMemory", NAPI_AUTO_LENGTH, low_memory, nullptr, &fn) != napi_ok) return nullptr;
  if (napi_set_named_property(env, exports, "lowMemory", fn) != napi_ok) return nullptr;
  return exports;
}
