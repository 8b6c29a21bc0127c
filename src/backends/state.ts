// The one canonical form: values compared whatever order their keys were built in (plan.ts's
// normalize and diff, the OVS backend's verification, ifcfg's check of the files it wrote).
// The step semantics themselves are plan.ts's applyPlan.

/** Deep copy with object keys sorted and undefined fields dropped (arrays keep their order). */
export function canonical<T>(v: T): T {
  if (Array.isArray(v)) return v.map((x) => canonical(x)) as T;
  if (v !== null && typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) if ((v as Record<string, unknown>)[k] !== undefined) out[k] = canonical((v as Record<string, unknown>)[k]);
    return out as T;
  }
  return v;
}

/** Structural equality (key order and undefined fields ignored). */
export function sameValue(a: unknown, b: unknown): boolean {
  return JSON.stringify(canonical(a)) === JSON.stringify(canonical(b));
}
