/* The configuration keys: each one's name, scope, type, the field its value goes to and its bounds. The
 * parser (config.c) reads them; docs/configuration.md and originmail.conf(5) describe them. */
#include <stddef.h>

#include "conf/config.h"
#include "conf/config_internal.h"

#define G(f) offsetof(struct config, f)
#define L(f) offsetof(struct listener_conf, f)
#define HOUR (3600ull * 1000)
#define DAY  (24 * HOUR)

const struct keydef conf_keys[] = {
        {"hostname", S_GLOBAL, K_HOSTNAME, G(hostname), 0, 0, NULL, false},
        {"domains", S_GLOBAL, K_DOMAINS, G(domains), 0, 0, NULL, false},
        {"mail_root", S_GLOBAL, K_PATH, G(mail_root), 0, 0, NULL, false},
        {"passwd_file", S_GLOBAL, K_PATH, G(passwd_file), 0, 0, NULL, false},
        {"user", S_GLOBAL, K_USER, G(run_as), 0, 0, NULL, true},
        {"tls_cert", S_GLOBAL, K_PATH, G(tls_cert), 0, 0, NULL, false},
        {"tls_key", S_GLOBAL, K_PATH, G(tls_key), 0, 0, NULL, false},
        {"relay_host", S_GLOBAL, K_RELAY, G(relay_host), 0, 0, NULL, true},
        {"queue_dir", S_GLOBAL, K_PATH, G(queue_dir), 0, 0, NULL, false},
        {"relay_tls", S_GLOBAL, K_RELAY_TLS, G(relay_tls), 0, 0, NULL, false},
        {"relay_ca", S_GLOBAL, K_PATH, G(relay_ca), 0, 0, NULL, true},
        {"relay_retry", S_GLOBAL, K_DAYS, G(relay_retry_ms), 1000, DAY, "between 1s and 1d", false},
        {"relay_max_age", S_GLOBAL, K_DAYS, G(relay_max_age_ms), 1000, 30 * DAY, "between 1s and 30d", false},
        {"log", S_GLOBAL, K_LOG, G(log), 0, 0, NULL, false},
        {"max_message_size", S_GLOBAL, K_SIZE, G(max_message_size), 1024, 2048ull << 20, "between 1K and 2G",
         false},
        {"max_line", S_GLOBAL, K_SIZE, G(max_line), 512, 1 << 20, "between 512 and 1M", false},
        {"max_recipients", S_GLOBAL, K_NUMBER, G(max_recipients), 1, 100000, "between 1 and 100000", false},
        {"max_connections", S_GLOBAL, K_NUMBER, G(max_connections), 1, 1000000, "between 1 and 1000000",
         false},
        {"output_buffer", S_GLOBAL, K_SIZE, G(output_buffer), 64 << 10, 64 << 20, "between 64K and 64M",
         false},
        {"command_timeout", S_GLOBAL, K_DURATION, G(command_timeout_ms), 1000, HOUR, "between 1s and 1h",
         false},
        {"data_timeout", S_GLOBAL, K_DURATION, G(data_timeout_ms), 1000, HOUR, "between 1s and 1h", false},
        {"shutdown_grace", S_GLOBAL, K_DURATION, G(shutdown_grace_ms), 0, HOUR, "at most 1h", false},
        {"folder_cache", S_GLOBAL, K_NUMBER, G(folder_cache), 0, 10000000, "between 0 and 10000000", false},
        {"auth_workers", S_GLOBAL, K_NUMBER, G(auth_workers), 0, 64, "between 0 and 64", false},
        {"tmp_max_age", S_GLOBAL, K_DAYS, G(tmp_max_age_ms), 60 * 1000, 30 * DAY, "between 1m and 30d",
         false},
        {"bpf", S_GLOBAL, K_BPF, G(bpf), 0, 0, NULL, false},
        {"seccomp", S_GLOBAL, K_BOOL, G(seccomp), 0, 0, NULL, false},
        {"bpf_sk_msg", S_GLOBAL, K_SK_MSG, G(bpf_sk_msg), 0, 0, NULL, false},
        {"bpf_cgroup", S_GLOBAL, K_CGROUP, G(bpf_cgroup), 0, 0, NULL, true},
        {"bpf_pin_dir", S_GLOBAL, K_PATH, G(bpf_pin_dir), 0, 0, NULL, false},
        {"metrics", S_GLOBAL, K_METRICS, G(metrics_addr), 0, 0, NULL, true},
        {"metrics_timeout", S_GLOBAL, K_DURATION, G(metrics_timeout_ms), 100, HOUR, "between 100ms and 1h",
         false},
        {"metrics_max_clients", S_GLOBAL, K_NUMBER, G(metrics_max_clients), 1, 1024, "between 1 and 1024",
         false},
        {"metrics_max_request", S_GLOBAL, K_SIZE, G(metrics_max_request), 256, 1 << 20, "between 256 and 1M",
         false},
        {"origin_max_connections", S_GLOBAL, K_NUMBER, G(origin_max_connections), 0, 65000,
         "between 0 (no cap) and 65000", false},
        {"origin_rate", S_GLOBAL, K_RATE, G(origin_rate), 0, 1000000, NULL, false},
        {"origin_auth_failures", S_GLOBAL, K_RATE, G(origin_auth_fails), 0, 10000, NULL, false},
        {"origin_auth_delay", S_GLOBAL, K_DURATION, G(origin_auth_delay_ms), 0, 60000, "at most 1m", false},
        {"origin_auth_delay_max", S_GLOBAL, K_DURATION, G(origin_auth_delay_max_ms), 0, 300000, "at most 5m",
         false},
        {"origin_exempt", S_GLOBAL, K_CIDRS, G(origin_exempt), 0, 0, NULL, true},
        {"origin_ipv6_prefix", S_GLOBAL, K_NUMBER, G(origin_ipv6_prefix), 32, 128, "between 32 and 128",
         false},
        {"address", S_LISTENER, K_ADDRESS, L(addrs), 0, 0, NULL, false},
        {"protocol", S_LISTENER, K_PROTOCOL, L(proto), 0, 0, NULL, false},
        {"tls", S_LISTENER, K_TLS, L(tls), 0, 0, NULL, false},
        {"tls_cert", S_LISTENER, K_PATH, L(cert), 0, 0, NULL, false},
        {"tls_key", S_LISTENER, K_PATH, L(key), 0, 0, NULL, false},
        {"proxy", S_LISTENER, K_PROXY, L(proxy), 0, 0, NULL, false},
        {"proxy_versions", S_LISTENER, K_VERSIONS, L(proxy_versions), 0, 0, NULL, false},
        {"proxy_trusted", S_LISTENER, K_CIDRS, L(trusted), 0, 0, NULL, true},
        {"direct_allowed", S_LISTENER, K_CIDRS, L(direct), 0, 0, NULL, true},
        {"proxy_timeout", S_LISTENER, K_DURATION, L(proxy_timeout_ms), 1, HOUR, "more than 0 and at most 1h",
         false},
        {"proxy_max_header", S_LISTENER, K_SIZE, L(proxy_max_header), 16, PP_V2_MAX_LEN,
         "between 16 and 65551", false},
        {"allow_plaintext_auth", S_LISTENER, K_BOOL, L(auth_plaintext), 0, 0, NULL, false},
        {"proxy_order", S_LISTENER, K_PROXY_ORDER, L(proxy_order), 0, 0, NULL, false},
        {"socket_mode", S_LISTENER, K_MODE, L(socket_mode), 0, 0, NULL, false},
        {"socket_owner", S_LISTENER, K_USER, L(socket_owner), 0, 0, NULL, true},
        {"socket_group", S_LISTENER, K_USER, L(socket_group), 0, 0, NULL, true},
};

const size_t conf_nkeys = sizeof(conf_keys) / sizeof(conf_keys[0]);
_Static_assert(sizeof(conf_keys) / sizeof(conf_keys[0]) <= CONF_KEYS_MAX, "raise CONF_KEYS_MAX");
