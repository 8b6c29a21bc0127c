// xe's records (xapi's ocaml/xapi-cli-server/records.ml) for the networking classes: each
// class's fields in xe's order, under xe's names, with xe's tag (`( RO)`, `( RW)`, `(MRO)`,
// `(MRW)`, `(SRO)`, `(SRW)`), rendering (refs as uuids, maps `k: v; k2: v2`, sets `a; b`) and
// the XenAPI call that sets each writable one. A table, not code per field: one line per
// class, `name[=source][@Class[>field]][:TAG][!][~][$][,]` where
//   source  the XenAPI field (default: the field whose name matches ignoring case and `-`/`_`)
//   @Class  the source is a ref (or a set of refs) to Class: shown as uuid(s); `>f` shows the
//           target's field f instead (`network-name-label=network@network>name_label`)
//   !       expensive (`<expensive field>` in -list, as xe)   ~ case-insensitive filter
//   $       deprecated (` [DEPRECATED]` after the tag)        , a set joined with ", " (xe compat)
// A field the daemon's record does not carry is left out (docs/cli.md lists them). This module
// loads nothing else, so `xe-netd pif-list` starts fast.

export type Tag = 'RO' | 'RW' | 'MRO' | 'MRW' | 'SRO' | 'SRW';

/** One xe field of a class. */
export interface XeField {
  name: string;
  src: string;
  tag: Tag;
  /** Ref target class (`@Class`), and the target field to show (`>f`, default its uuid). */
  refCls?: string;
  refField?: string;
  expensive: boolean;
  ci: boolean;
  deprecated: boolean;
  comma: boolean;
  /** A computed field (xe builds it from other fields or other objects). */
  special?: (o: Rec, c: Lookup) => string | undefined;
  /** Map field set key by key with a message (`set_property`) rather than add/remove. */
  setInMap?: string;
}

export type Rec = Record<string, any>;

/** What a field may read besides its own record: other objects by class and ref. */
export interface Lookup {
  rec(cls: string, ref: string): Rec | undefined;
  /** Every object of a class (pool fields xapi computes over all hosts). */
  all(cls: string): Rec[];
}

/** One xe class: its XenAPI class, its fields, and what `-list` shows by default. */
export interface XeClass {
  xe: string;
  cls: string;
  fields: XeField[];
  listDefault: string[];
  /** Filters xe always applies (vm-list: is-a-template=false). */
  defFilters?: [string, string][];
}

const NID = '<not in database>';
const NULL = 'OpaqueRef:NULL';

function parse(spec: string): XeField[] {
  return spec
    .trim()
    .split(/\s+/)
    .map((tok) => {
      const m = /^([^=@:!~$,]+)(?:=([^@:!~$,]+))?(?:@([A-Za-z_]+)(?:>([A-Za-z_]+))?)?(?::(RO|RW|MRO|MRW|SRO|SRW))?([!~$,]*)$/.exec(tok);
      if (!m) throw new Error(`records: bad field spec ${tok}`);
      const [, name, src, refCls, refField, tag, flags] = m;
      return {
        name,
        src: src ?? name,
        tag: (tag as Tag) ?? 'RO',
        refCls,
        refField,
        expensive: flags.includes('!'),
        ci: flags.includes('~'),
        deprecated: flags.includes('$'),
        comma: flags.includes(','),
      };
    });
}

type Extra = Partial<XeClass> & { special?: Record<string, XeField['special']>; setInMap?: Record<string, string> };
type Spec = [xe: string, cls: string, spec: string, listDefault: string[], extra?: Extra];

function build([xe, c, spec, listDefault, extra = {}]: Spec): XeClass {
  const fields = parse(spec);
  for (const f of fields) {
    if (extra.special?.[f.name]) f.special = extra.special[f.name];
    if (extra.setInMap?.[f.name]) f.setInMap = extra.setInMap[f.name];
  }
  return { xe, cls: c, fields, listDefault, defFilters: extra.defFilters };
}

const metric = (show: (m: Rec) => string) => (o: Rec, c: Lookup) => {
  const m = c.rec('PIF_metrics', o.metrics);
  return m ? show(m) : NID;
};

/** A pool field xapi reads from every host: the hosts' common value, or `<inconsistent>`. */
function consistent(field: string, show: (v: unknown) => string = String) {
  return (_o: Rec, c: Lookup): string => {
    const vals = [...new Set(c.all('host').map((h) => show(h[field])))];
    return vals.length === 1 ? vals[0] : '<inconsistent>';
  };
}

// Parsed on first use, one class at a time: a command reads one class (start-up time).
const SPECS: Spec[] = [
  [
    'pif',
    'PIF',
    `uuid device MAC~ physical managed currently-attached MTU VLAN vlan-master-of@VLAN vlan-slave-of@VLAN
    bond-master-of@Bond bond-slave-of@Bond sriov-physical-PIF-of@network_sriov sriov-logical-PIF-of@network_sriov
    tunnel-access-PIF-of@tunnel tunnel-transport-PIF-of@tunnel management network-uuid=network@network
    network-name-label=network@network>name_label host-uuid=host@host host-name-label=host@host>name_label
    IP-configuration-mode IP netmask gateway IPv6-configuration-mode IPv6 IPv6-gateway primary-address-type DNS
    properties:MRO capabilities:SRO io_read_kbs=metrics! io_write_kbs=metrics! carrier=metrics vendor-id=metrics vendor-name=metrics
    device-id=metrics device-name=metrics speed=metrics duplex=metrics disallow-unplug:RW pci-bus-path=metrics other-config:MRW
    igmp-snooping-status`,
    ['uuid', 'device', 'VLAN', 'MAC', 'network-uuid', 'currently-attached', 'host-uuid'],
    {
      setInMap: { properties: 'set_property' },
      special: {
        carrier: metric((m) => String(m.carrier)),
        'vendor-id': metric((m) => m.vendor_id),
        'vendor-name': metric((m) => m.vendor_name),
        'device-id': metric((m) => m.device_id),
        'device-name': metric((m) => m.device_name),
        speed: metric((m) => `${m.speed} Mbit/s`),
        duplex: metric((m) => (m.duplex ? 'full' : m.carrier ? 'half' : 'unknown')),
        'pci-bus-path': metric((m) => m.pci_bus_path),
        io_read_kbs: () => '<unknown>',
        io_write_kbs: () => '<unknown>',
      },
    },
  ],
  [
    'bond',
    'Bond',
    'uuid master@PIF slaves@PIF mode properties:MRO primary-slave@PIF links-up auto-update-mac',
    ['uuid', 'master', 'slaves'],
    {
      setInMap: { properties: 'set_property' },
    },
  ],
  ['vlan', 'VLAN', 'uuid tagged-PIF@PIF untagged-PIF@PIF tag', ['uuid', 'tagged-PIF', 'untagged-PIF', 'tag']],
  ['tunnel', 'tunnel', 'uuid access-PIF@PIF transport-PIF@PIF status other-config:MRW protocol', ['uuid', 'transport-PIF', 'access-PIF', 'status']],
  [
    'network',
    'network',
    `uuid name-label:RW name-description:RW VIF-uuids=VIFs@VIF:SRO PIF-uuids=PIFs@PIF:SRO MTU:RW bridge managed
    other-config:MRW blobs tags:SRW, default-locking-mode:RW purpose:SRW,`,
    ['uuid', 'name-label', 'name-description', 'bridge'],
  ],
  [
    'vif',
    'VIF',
    `uuid vm-uuid=VM@VM vm-name-label=VM@VM>name_label allowed-operations:SRO current-operations:SRO device MAC~
    MAC-autogenerated MTU currently-attached qos_algorithm_type:RW qos_algorithm_params:MRW qos_supported_algorithms:SRO
    other-config:MRW network-uuid=network@network network-name-label=network@network>name_label io_read_kbs=metrics!
    io_write_kbs=metrics! locking-mode:RW ipv4-allowed:SRW ipv6-allowed:SRW ipv4-configuration-mode ipv4-addresses ipv4-gateway
    ipv6-configuration-mode ipv6-addresses ipv6-gateway trunks:SRW`,
    ['uuid', 'device', 'vm-uuid', 'network-uuid'],
    {
      special: { io_read_kbs: () => '<unknown>', io_write_kbs: () => '<unknown>' },
    },
  ],
  [
    'host',
    'host',
    `uuid name-label:RW name-description:RW allowed-operations:SRO current-operations:SRO enabled display
    API-version-major API-version-minor API-version-vendor API-version-vendor-implementation:MRO logging:MRW
    suspend-image-sr-uuid=suspend_image_sr@SR:RW crash-dump-sr-uuid=crash_dump_sr@SR:RW software-version:MRO capabilities:SRO
    other-config:MRW cpu_info:MRO chipset-info:MRO hostname address https-only:RW supported-bootloaders:SRO blobs memory-overhead
    memory-total=metrics memory-free=metrics host-metrics-live=metrics patches:SRO$ updates:SRO ha-statefiles ha-network-peers
    external-auth-type external-auth-service-name external-auth-configuration:MRO edition license-server:MRO power-on-mode
    power-on-config:MRO local-cache-sr@SR tags:SRW ssl-legacy:RW guest_VCPUs_params:MRW virtual-hardware-platform-versions:SRO
    control-domain-uuid=control_domain@VM resident-vms=resident_VMs@VM:SRO updates-requiring-reboot:SRO features:SRO iscsi_iqn:RW
    multipathing:RW numa-affinity-policy:RW pending-guidances tls-verification-enabled last-software-update
    latest-synced-updates-applied pending-guidances-recommended pending-guidances-full last-update-hash ssh-enabled
    ssh-enabled-timeout:RW ssh-expiry console-idle-timeout:RW ssh-auto-mode:RW max-cstate:RW secure-boot ntp-mode:RW
    ntp-custom-servers:SRO timezone:RW`,
    ['uuid', 'name-label', 'name-description'],
    {
      special: {
        'memory-total': (o, c) => {
          const m = c.rec('host_metrics', o.metrics);
          return m ? String(m.memory_total) : NID;
        },
        'memory-free': (o, c) => {
          const m = c.rec('host_metrics', o.metrics);
          return m ? String(m.memory_free) : NID;
        },
        'host-metrics-live': (o, c) => {
          const m = c.rec('host_metrics', o.metrics);
          return m ? String(m.live) : NID;
        },
      },
    },
  ],
  [
    'pool',
    'pool',
    `uuid name-label:RW name-description:RW master@host default-SR@SR:RW crash-dump-SR@SR:RW suspend-image-SR@SR:RW
    other-config:MRW allowed-operations:SRO current-operations:SRO ha-enabled ha-configuration ha-statefiles
    ha-host-failures-to-tolerate:RW ha-plan-exists-for ha-allow-overcommit:RW ha-overcommitted ha-reboot-vm-on-internal-shutdown:RW
    blobs wlb-url wlb-username wlb-enabled:RW wlb-verify-cert:RW igmp-snooping-enabled:RW gui-config:MRW health-check-config:MRW
    restrictions tags:SRW ha-cluster-stack guest-agent-config:MRW cpu_info:MRO policy-no-vendor-device:RW live-patching-disabled:RW
    tls-verification-enabled client-certificate-auth-enabled client-certificate-auth-name repositories:SRW repository-proxy-url
    repository-proxy-username https-only=hosts:RW migration-compression:RW coordinator-bias:RW telemetry-frequency telemetry-next-collection
    last-update-sync update-sync-frequency update-sync-day update-sync-enabled auto-update-vm-secureboot-certificates:RW
    recommendations:MRO ext-auth-cache-enabled:RW ext-auth-cache-size:RW ext-auth-cache-expiry:RW license-server:MRW ssh-enabled=hosts
    ssh-enabled-timeout=hosts:RW ssh-expiry=hosts console-idle-timeout=hosts:RW ssh-auto-mode=hosts:RW limit-console-sessions:RW
    vm-console-idle-timeout:RW`,
    ['uuid', 'name-label', 'name-description', 'master', 'default-SR'],
    {
      special: {
        'https-only': (_o, c) => String(c.all('host').every((h) => h.https_only === true)),
        'ssh-enabled': consistent('ssh_enabled'),
        'ssh-enabled-timeout': consistent('ssh_enabled_timeout'),
        'ssh-expiry': consistent('ssh_expiry', (v) => String(v).replace(/^(\d{4})(\d{2})(\d{2})T/, '$1-$2-$3T')),
        'console-idle-timeout': consistent('console_idle_timeout'),
        'ssh-auto-mode': consistent('ssh_auto_mode'),
      },
    },
  ],
  [
    'vm',
    'VM',
    `uuid name-label:RW name-description:RW user-version:RW is-a-template:RW is-default-template:RW is-a-snapshot
    snapshot-of@VM snapshots@VM snapshot-time parent@VM children@VM is-control-domain power-state memory-overhead
    memory-static-max:RW memory-dynamic-max:RW memory-dynamic-min:RW memory-static-min:RW VCPUs-params:MRW VCPUs-max:RW
    VCPUs-at-startup:RW actions-after-shutdown:RW actions-after-softreboot:RW actions-after-reboot:RW actions-after-crash:RW
    platform:MRW allowed-operations:SRO current-operations:SRO blocked-operations:MRW domain-type:RW HVM-boot-policy:RW
    HVM-boot-params:MRW HVM-shadow-multiplier:RW PV-kernel:RW PV-ramdisk:RW PV-args:RW PV-legacy-args:RW PV-bootloader:RW
    PV-bootloader-args:RW last-boot-CPU-flags resident-on@host affinity@host:RW other-config:MRW dom-id=domid recommendations
    xenstore-data:MRW ha-always-run:RW$ ha-restart-priority:RW blobs tags:SRW start-delay:RW shutdown-delay:RW order:RW version
    generation-id hardware-platform-version has-vendor-device:RW requires-reboot reference-label bios-strings:MRO`,
    ['name-label', 'uuid', 'power-state'],
    { defFilters: [['is-a-template', 'false']] },
  ],
  [
    'pif-metrics',
    'PIF_metrics',
    `uuid io-read-kbs=io_read_kbs io-write-kbs=io_write_kbs carrier vendor-id vendor-name device-id
    device-name speed duplex pci-bus-path last-updated other-config:MRW`,
    ['uuid', 'carrier', 'speed', 'duplex'],
  ],
];

const built = new Map<string, XeClass>();

/** The xe class for a command prefix (`pif`, `pif-metrics`). */
export function xeClass(prefix: string): XeClass | undefined {
  let c = built.get(prefix);
  if (!c) {
    const spec = SPECS.find((s) => s[0] === prefix);
    if (!spec) return undefined;
    built.set(prefix, (c = build(spec)));
  }
  return c;
}

/** The xe class names (command prefixes), longest first so `pif-metrics-list` is not `pif`'s. */
export const XE_PREFIXES: string[] = SPECS.map((s) => s[0]).sort((a, b) => b.length - a.length);

/** Every xe class (help, completion). */
export function allXeClasses(): XeClass[] {
  return SPECS.map((s) => xeClass(s[0])!);
}

const norm = (s: string) => s.toLowerCase().replace(/_/g, '-');

/** The record key that a field reads (matching ignoring case and `-`/`_`), if the record has one. */
export function sourceKey(f: XeField, rec: Rec): string | undefined {
  if (f.src in rec) return f.src;
  const n = norm(f.src);
  return Object.keys(rec).find((k) => norm(k) === n);
}

/** Whether the daemon's record carries what the field shows. */
export function present(f: XeField, rec: Rec): boolean {
  return f.special !== undefined || sourceKey(f, rec) !== undefined;
}

function scalar(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'number') return Number.isInteger(v) ? String(v) : v.toFixed(3);
  return String(v);
}

/** A ref as xe shows it: the target's uuid (or field), `<not in database>` when dangling or null. */
function showRef(f: XeField, ref: unknown, c: Lookup): string {
  if (typeof ref !== 'string' || ref === NULL) return NID;
  const t = c.rec(f.refCls!, ref);
  if (!t) return NID;
  return scalar(t[f.refField ?? 'uuid']);
}

/** The set members of a set field (refs as uuids), as `-param-add/-remove` and `:contains` see them. */
export function setOf(f: XeField, o: Rec, c: Lookup): string[] {
  const k = sourceKey(f, o);
  const v = k === undefined ? [] : o[k];
  const items = Array.isArray(v) ? v : v && typeof v === 'object' ? Object.values(v) : [];
  return items.map((x) => (f.refCls ? showRef(f, x, c) : scalar(x)));
}

/** The map of a map field, as `-param-get param-key=` and `map:key=` filters see it. */
export function mapOf(f: XeField, o: Rec): Record<string, string> {
  const k = sourceKey(f, o);
  const v = k === undefined ? {} : o[k];
  // No prototype: keys come from the server (any string a caller stored, `__proto__` too).
  const m: Record<string, string> = Object.create(null);
  if (v && typeof v === 'object' && !Array.isArray(v)) for (const [a, b] of Object.entries(v)) m[a] = scalar(b);
  return m;
}

/** The field's value as xe prints it. `inList`: expensive fields are not computed. */
export function show(f: XeField, o: Rec, c: Lookup, inList = false): string {
  if (f.expensive && inList) return '<expensive field>';
  if (f.special) return f.special(o, c) ?? '';
  const k = sourceKey(f, o);
  if (k === undefined) return '';
  const v = o[k];
  if (f.refCls) {
    if (Array.isArray(v)) return v.map((r) => showRef(f, r, c)).join(f.comma ? ', ' : '; ');
    if (v && typeof v === 'object')
      return Object.entries(v)
        .map(([a, r]) => `${a}: ${showRef(f, r, c)}`)
        .join('; ');
    return showRef(f, v, c);
  }
  if (Array.isArray(v)) return v.map(scalar).join(f.comma ? ', ' : '; ');
  if (v && typeof v === 'object') {
    if (f.tag === 'SRO' || f.tag === 'SRW') return Object.values(v).map(scalar).join('; ');
    return Object.entries(v)
      .map(([a, b]) => `${a}: ${scalar(b)}`)
      .join('; ');
  }
  return scalar(v);
}

/** The field's label as xe prints it: `name ( RO)`, `name (MRW) [DEPRECATED]`. */
export function label(f: XeField): string {
  return `${f.name} (${f.tag.length === 2 ? ` ${f.tag}` : f.tag})${f.deprecated ? ' [DEPRECATED]' : ''}`;
}

/** The classes (XenAPI names) a field reads besides the record itself. */
export function lookups(f: XeField, xc: XeClass): string[] {
  if (f.refCls) return [f.refCls];
  if (f.special && f.src === 'metrics' && !f.name.startsWith('io_')) return [xc.cls === 'host' ? 'host_metrics' : 'PIF_metrics'];
  if (f.src === 'hosts') return ['host'];
  return [];
}
