// Enumerations used by fields and parameters; values exactly as xapi sends them.
import type { EnumDef } from './types.js';

const all = [
  { name: 'bond_mode', values: ['balance-slb', 'active-backup', 'lacp'], caseSensitive: true },
  { name: 'domain_type', values: ['hvm', 'pv', 'pv_in_pvh', 'pvh', 'unspecified'] },
  { name: 'host_allowed_operations', values: ['provision', 'evacuate', 'shutdown', 'reboot', 'power_on', 'vm_start', 'vm_resume', 'vm_migrate', 'apply_updates', 'enable'] },
  { name: 'host_display', values: ['enabled', 'disable_on_reboot', 'disabled', 'enable_on_reboot'] },
  { name: 'host_ntp_mode', values: ['DHCP', 'Custom', 'Factory', 'Disabled'] },
  { name: 'host_numa_affinity_policy', values: ['any', 'best_effort', 'default_policy'] },
  { name: 'ip_configuration_mode', values: ['None', 'DHCP', 'Static'] },
  { name: 'ipv6_configuration_mode', values: ['None', 'DHCP', 'Static', 'Autoconf'] },
  { name: 'latest_synced_updates_applied_state', values: ['yes', 'no', 'unknown'] },
  { name: 'network_default_locking_mode', values: ['unlocked', 'disabled'] },
  { name: 'network_operations', values: ['attaching'] },
  { name: 'network_purpose', values: ['nbd', 'insecure_nbd'] },
  { name: 'on_crash_behaviour', values: ['destroy', 'coredump_and_destroy', 'restart', 'coredump_and_restart', 'preserve', 'rename_restart'] },
  { name: 'on_normal_exit', values: ['destroy', 'restart'] },
  { name: 'on_softreboot_behavior', values: ['soft_reboot', 'destroy', 'restart', 'preserve'] },
  { name: 'pif_igmp_status', values: ['enabled', 'disabled', 'unknown'] },
  { name: 'pool_allowed_operations', values: ['ha_enable', 'ha_disable', 'cluster_create', 'designate_new_master', 'configure_repositories', 'sync_updates', 'sync_bundle', 'get_updates', 'apply_updates', 'tls_verification_enable', 'cert_refresh', 'exchange_certificates_on_join', 'exchange_ca_certificates_on_join', 'copy_primary_host_certs', 'eject', 'exchange_crls_on_join'] },
  { name: 'primary_address_type', values: ['IPv4', 'IPv6'] },
  { name: 'task_allowed_operations', values: ['cancel', 'destroy'] },
  { name: 'task_status_type', values: ['pending', 'success', 'failure', 'cancelling', 'cancelled'] },
  { name: 'telemetry_frequency', values: ['daily', 'weekly', 'monthly'] },
  { name: 'tristate_type', values: ['yes', 'no', 'unspecified'] },
  { name: 'tunnel_protocol', values: ['gre', 'vxlan'] },
  { name: 'update_guidances', values: ['reboot_host', 'reboot_host_on_livepatch_failure', 'reboot_host_on_kernel_livepatch_failure', 'reboot_host_on_xen_livepatch_failure', 'restart_toolstack', 'restart_device_model', 'restart_vm'] },
  { name: 'update_sync_frequency', values: ['daily', 'weekly'] },
  { name: 'vif_ipv4_configuration_mode', values: ['None', 'Static', 'DHCP'] },
  { name: 'vif_ipv6_configuration_mode', values: ['None', 'Static', 'Autoconf'] },
  { name: 'vif_locking_mode', values: ['network_default', 'locked', 'unlocked', 'disabled'] },
  { name: 'vif_operations', values: ['attach', 'plug', 'unplug'] },
  { name: 'vm_operations', values: ['snapshot', 'clone', 'copy', 'create_template', 'revert', 'checkpoint', 'snapshot_with_quiesce', 'provision', 'start', 'start_on', 'pause', 'unpause', 'clean_shutdown', 'clean_reboot', 'hard_shutdown', 'power_state_reset', 'hard_reboot', 'suspend', 'csvm', 'resume', 'resume_on', 'pool_migrate', 'migrate_send', 'get_boot_record', 'send_sysrq', 'send_trigger', 'query_services', 'shutdown', 'call_plugin', 'changing_memory_live', 'awaiting_memory_live', 'changing_dynamic_range', 'changing_static_range', 'changing_memory_limits', 'changing_shadow_memory', 'changing_shadow_memory_live', 'changing_VCPUs', 'changing_VCPUs_live', 'changing_NVRAM', 'assert_operation_valid', 'data_source_op', 'update_allowed_operations', 'make_into_template', 'import', 'export', 'metadata_export', 'reverting', 'destroy', 'create_vtpm', 'sysprep'] },
  { name: 'vm_power_state', values: ['Halted', 'Paused', 'Running', 'Suspended'] },
  { name: 'vm_secureboot_certificates_state', values: ['ok', 'update_available', 'update_on_boot'] },
] as const satisfies readonly EnumDef[];

/** The enums with their literal values (schema/model.ts types enum fields as unions of them). */
export type EnumSpecs = typeof all;
/** Every enum. */
export const enums: readonly EnumDef[] = all;
