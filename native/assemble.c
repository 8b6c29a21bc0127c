/*
 * Assembles compact cached records into a bulk reply's slice (src/wire/xmlrpc.ts, "Compact records").
 * A class's record, as a struct member of get_all_records, is constant text (member names and
 * tags, the same for every record of the class) between variable parts (the ref, each field's
 * content). The record cache keeps only the variable parts of each record: `n` lengths as LEB128
 * varints, then the parts' bytes, in an ArrayBuffer of its own (no Buffer object over it: ~100
 * bytes of V8 heap less per record). Interleaving them with the constant pieces in JavaScript takes
 * a copy call per piece (~70 per PIF, 700,000 per 10,000-PIF reply); here it is one call per record.
 *
 * layout(tmpl: Buffer, ends: Uint32Array) -> id: keeps a class's constant pieces (piece i is
 *   tmpl[ends[i-1] .. ends[i]], ends.length = n + 1 for n variable parts).
 * assemble(out: Buffer, at: number, id: number, rec: ArrayBuffer) -> the offset after what it wrote:
 *   piece 0, part 0, piece 1, ..., part n-1, piece n. Throws, writing nothing, when the record
 *   does not match the layout or does not fit.
 * N-API only, so it loads in any Node >= 12.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <node_api.h>

typedef struct {
  uint8_t *tmpl;
  uint32_t *ends; /* n + 1 */
  uint32_t n;
} layout_t;

/* Per-environment (a worker thread has its own). */
typedef struct {
  layout_t *v;
  uint32_t len, cap;
} layouts_t;

static void free_layouts(napi_env env, void *data, void *hint) {
  (void)env;
  (void)hint;
  layouts_t *ls = data;
  for (uint32_t i = 0; i < ls->len; i++) {
    free(ls->v[i].tmpl);
    free(ls->v[i].ends);
  }
  free(ls->v);
  free(ls);
}

static napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, NULL, msg);
  return NULL;
}

static napi_value layout(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  layouts_t *ls;
  void *tmpl, *ends;
  size_t tlen, elen;
  napi_typedarray_type et;
  napi_value ab;
  size_t off;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 2) return fail(env, "layout: (tmpl, ends) expected");
  if (napi_get_instance_data(env, (void **)&ls) != napi_ok || ls == NULL) return fail(env, "layout: no instance data");
  if (napi_get_buffer_info(env, argv[0], &tmpl, &tlen) != napi_ok) return fail(env, "layout: tmpl must be a Buffer");
  if (napi_get_typedarray_info(env, argv[1], &et, &elen, &ends, &ab, &off) != napi_ok || et != napi_uint32_array || elen < 1)
    return fail(env, "layout: ends must be a non-empty Uint32Array");
  const uint32_t *e = ends;
  for (size_t i = 0; i < elen; i++)
    if (e[i] > tlen || (i > 0 && e[i] < e[i - 1])) return fail(env, "layout: ends out of order or past tmpl");
  if (ls->len == ls->cap) {
    uint32_t cap = ls->cap ? 2 * ls->cap : 16;
    layout_t *v = realloc(ls->v, cap * sizeof *v);
    if (v == NULL) return fail(env, "layout: out of memory");
    ls->v = v;
    ls->cap = cap;
  }
  layout_t *l = &ls->v[ls->len];
  l->tmpl = malloc(tlen ? tlen : 1);
  l->ends = malloc(elen * sizeof *l->ends);
  if (l->tmpl == NULL || l->ends == NULL) {
    free(l->tmpl);
    free(l->ends);
    return fail(env, "layout: out of memory");
  }
  memcpy(l->tmpl, tmpl, tlen);
  memcpy(l->ends, e, elen * sizeof *l->ends);
  l->n = (uint32_t)(elen - 1);
  napi_value id;
  if (napi_create_uint32(env, ls->len++, &id) != napi_ok) return NULL;
  return id;
}

/* Reads one LEB128 varint (at most 32 bits) from *p, not past end; 0 on a malformed one. */
static int varint(const uint8_t **p, const uint8_t *end, uint32_t *out) {
  uint32_t v = 0;
  for (int shift = 0; shift < 35 && *p < end; shift += 7) {
    uint8_t b = *(*p)++;
    v |= (uint32_t)(b & 0x7f) << shift;
    if (!(b & 0x80)) {
      *out = v;
      return 1;
    }
  }
  return 0;
}

static napi_value assemble(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  layouts_t *ls;
  void *outp, *recp;
  size_t olen, rlen;
  uint32_t at, id;
  if (napi_get_cb_info(env, info, &argc, argv, NULL, NULL) != napi_ok || argc < 4) return fail(env, "assemble: (out, at, id, rec) expected");
  if (napi_get_instance_data(env, (void **)&ls) != napi_ok || ls == NULL) return fail(env, "assemble: no instance data");
  if (napi_get_buffer_info(env, argv[0], &outp, &olen) != napi_ok) return fail(env, "assemble: out must be a Buffer");
  if (napi_get_value_uint32(env, argv[1], &at) != napi_ok) return fail(env, "assemble: at must be a number");
  if (napi_get_value_uint32(env, argv[2], &id) != napi_ok || id >= ls->len) return fail(env, "assemble: unknown layout");
  if (napi_get_arraybuffer_info(env, argv[3], &recp, &rlen) != napi_ok) return fail(env, "assemble: rec must be an ArrayBuffer");
  const layout_t *l = &ls->v[id];
  const uint8_t *rec = recp, *rend = rec + rlen, *h = rec;
  /* First pass: the header's end, and that the parts fill the record and fit with the pieces. */
  uint64_t parts = 0, len;
  uint32_t x = 0;
  for (uint32_t i = 0; i < l->n; i++) {
    if (!varint(&h, rend, &x)) return fail(env, "assemble: malformed record header");
    parts += x;
  }
  if (parts != (uint64_t)(rend - h)) return fail(env, "assemble: record parts do not match its header");
  len = parts + l->ends[l->n];
  if (at > olen || len > olen - at) return fail(env, "assemble: the record does not fit");
  uint8_t *o = (uint8_t *)outp + at;
  const uint8_t *d = h;
  h = rec;
  uint32_t prev = 0;
  for (uint32_t i = 0; i < l->n; i++) {
    memcpy(o, l->tmpl + prev, l->ends[i] - prev);
    o += l->ends[i] - prev;
    prev = l->ends[i];
    varint(&h, rend, &x);
    memcpy(o, d, x);
    o += x;
    d += x;
  }
  memcpy(o, l->tmpl + prev, l->ends[l->n] - prev);
  o += l->ends[l->n] - prev;
  napi_value r;
  if (napi_create_uint32(env, (uint32_t)(o - (uint8_t *)outp), &r) != napi_ok) return NULL;
  return r;
}

NAPI_MODULE_INIT() {
  layouts_t *ls = calloc(1, sizeof *ls);
  if (ls == NULL || napi_set_instance_data(env, ls, free_layouts, NULL) != napi_ok) return NULL;
  napi_value fn;
  if (napi_create_function(env, "layout", NAPI_AUTO_LENGTH, layout, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "layout", fn) != napi_ok) return NULL;
  if (napi_create_function(env, "assemble", NAPI_AUTO_LENGTH, assemble, NULL, &fn) != napi_ok) return NULL;
  if (napi_set_named_property(env, exports, "assemble", fn) != napi_ok) return NULL;
  return exports;
}
