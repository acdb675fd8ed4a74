/* moat features: what this runtime implements (runtime-spec features.md). */
#include <stdio.h>

#include "cli/cli.h"

static const char g_features_usage[] =
        "Usage: moat features\n"
        "\n"
        "Prints, as JSON, the OCI features moat implements.\n";

static const char g_features[] =
        "{\n"
        "  \"ociVersionMin\": \"1.0.0\",\n"
        "  \"ociVersionMax\": \"1.2.0\",\n"
        "  \"hooks\": [\"prestart\", \"createRuntime\", \"createContainer\", \"poststart\", \"poststop\"],\n"
        "  \"mountOptions\": [\"bind\", \"rbind\", \"ro\", \"rw\", \"mode\"],\n"
        "  \"linux\": {\n"
        "    \"namespaces\": [\"cgroup\", \"ipc\", \"mount\", \"network\", \"pid\", \"user\", \"uts\"],\n"
        "    \"capabilities\": [],\n"
        "    \"cgroup\": {\"v1\": true, \"v2\": true, \"systemd\": false, \"systemdUser\": false, \"rdma\": false},\n"
        "    \"seccomp\": {\"enabled\": true,\n"
        "      \"actions\": [\"SCMP_ACT_ALLOW\", \"SCMP_ACT_ERRNO\", \"SCMP_ACT_KILL\", \"SCMP_ACT_KILL_PROCESS\", \"SCMP_ACT_KILL_THREAD\", \"SCMP_ACT_LOG\", \"SCMP_ACT_TRACE\", \"SCMP_ACT_TRAP\"],\n"
        "      \"operators\": [\"SCMP_CMP_EQ\", \"SCMP_CMP_GE\", \"SCMP_CMP_GT\", \"SCMP_CMP_LE\", \"SCMP_CMP_LT\", \"SCMP_CMP_MASKED_EQ\", \"SCMP_CMP_NE\"],\n"
        "      \"archs\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X32\"],\n"
        "      \"knownFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\n"
        "      \"supportedFlags\": [\"SECCOMP_FILTER_FLAG_TSYNC\", \"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"]},\n"
        "    \"apparmor\": {\"enabled\": false},\n"
        "    \"selinux\": {\"enabled\": false}\n"
        "  },\n"
        "  \"annotations\": {\n"
        "    \"org.opencontainers.runtime-spec.features\": \"sandboxed: every system call is implemented by moat's application kernel\",\n"
        "    \"io.github.moat.pause.enabled\": \"true\",\n"
        "    \"io.github.moat.update\": \"memory, memory-swap, pids, cpu shares/quota/period (host cgroup; pids also in moat's kernel)\"\n"
        "  }\n"
        "}\n";

int cmd_features(int argc, char **argv)
{
    int i;
    int r = cli_parse_opts("features", argc, argv, NULL, g_features_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (i != argc) {
        fprintf(stderr, "moat features: unexpected argument `%s`\n", argv[i]);
        return 1;
    }
    fputs(g_features, stdout);
    return 0;
}
