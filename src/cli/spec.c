/* moat spec: write a default config.json. */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "oci/err.h"

static const char g_spec_usage[] =
        "Usage: moat spec [--bundle DIR]\n"
        "\n"
        "Writes a default config.json into DIR (default: the current directory):\n"
        "runs `sh` in the root file system `rootfs` next to it. Edit process.args\n"
        "and set process.terminal to false to run without a terminal.\n";

static const char g_default_spec[] =
        "{\n"
        "\t\"ociVersion\": \"1.2.0\",\n"
        "\t\"process\": {\n"
        "\t\t\"terminal\": true,\n"
        "\t\t\"user\": {\n"
        "\t\t\t\"uid\": 0,\n"
        "\t\t\t\"gid\": 0\n"
        "\t\t},\n"
        "\t\t\"args\": [\n"
        "\t\t\t\"sh\"\n"
        "\t\t],\n"
        "\t\t\"env\": [\n"
        "\t\t\t\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\n"
        "\t\t\t\"TERM=xterm\"\n"
        "\t\t],\n"
        "\t\t\"cwd\": \"/\",\n"
        "\t\t\"rlimits\": [\n"
        "\t\t\t{\n"
        "\t\t\t\t\"type\": \"RLIMIT_NOFILE\",\n"
        "\t\t\t\t\"hard\": 1024,\n"
        "\t\t\t\t\"soft\": 1024\n"
        "\t\t\t}\n"
        "\t\t],\n"
        "\t\t\"noNewPrivileges\": true\n"
        "\t},\n"
        "\t\"root\": {\n"
        "\t\t\"path\": \"rootfs\",\n"
        "\t\t\"readonly\": true\n"
        "\t},\n"
        "\t\"hostname\": \"moat\",\n"
        "\t\"mounts\": [\n"
        "\t\t{\n"
        "\t\t\t\"destination\": \"/proc\",\n"
        "\t\t\t\"type\": \"proc\",\n"
        "\t\t\t\"source\": \"proc\"\n"
        "\t\t},\n"
        "\t\t{\n"
        "\t\t\t\"destination\": \"/dev\",\n"
        "\t\t\t\"type\": \"tmpfs\",\n"
        "\t\t\t\"source\": \"tmpfs\",\n"
        "\t\t\t\"options\": [\"nosuid\", \"strictatime\", \"mode=755\", \"size=65536k\"]\n"
        "\t\t},\n"
        "\t\t{\n"
        "\t\t\t\"destination\": \"/dev/pts\",\n"
        "\t\t\t\"type\": \"devpts\",\n"
        "\t\t\t\"source\": \"devpts\",\n"
        "\t\t\t\"options\": [\"nosuid\", \"noexec\", \"newinstance\", \"ptmxmode=0666\", \"mode=0620\", \"gid=5\"]\n"
        "\t\t},\n"
        "\t\t{\n"
        "\t\t\t\"destination\": \"/dev/shm\",\n"
        "\t\t\t\"type\": \"tmpfs\",\n"
        "\t\t\t\"source\": \"shm\",\n"
        "\t\t\t\"options\": [\"nosuid\", \"noexec\", \"nodev\", \"mode=1777\", \"size=65536k\"]\n"
        "\t\t},\n"
        "\t\t{\n"
        "\t\t\t\"destination\": \"/dev/mqueue\",\n"
        "\t\t\t\"type\": \"mqueue\",\n"
        "\t\t\t\"source\": \"mqueue\",\n"
        "\t\t\t\"options\": [\"nosuid\", \"noexec\", \"nodev\"]\n"
        "\t\t},\n"
        "\t\t{\n"
        "\t\t\t\"destination\": \"/sys\",\n"
        "\t\t\t\"type\": \"sysfs\",\n"
        "\t\t\t\"source\": \"sysfs\",\n"
        "\t\t\t\"options\": [\"nosuid\", \"noexec\", \"nodev\", \"ro\"]\n"
        "\t\t},\n"
        "\t\t{\n"
        "\t\t\t\"destination\": \"/sys/fs/cgroup\",\n"
        "\t\t\t\"type\": \"cgroup\",\n"
        "\t\t\t\"source\": \"cgroup\",\n"
        "\t\t\t\"options\": [\"nosuid\", \"noexec\", \"nodev\", \"relatime\", \"ro\"]\n"
        "\t\t}\n"
        "\t],\n"
        "\t\"linux\": {\n"
        "\t\t\"namespaces\": [\n"
        "\t\t\t{ \"type\": \"pid\" },\n"
        "\t\t\t{ \"type\": \"network\" },\n"
        "\t\t\t{ \"type\": \"ipc\" },\n"
        "\t\t\t{ \"type\": \"uts\" },\n"
        "\t\t\t{ \"type\": \"mount\" },\n"
        "\t\t\t{ \"type\": \"cgroup\" }\n"
        "\t\t],\n"
        "\t\t\"maskedPaths\": [\"/proc/acpi\", \"/proc/kcore\", \"/proc/keys\", \"/sys/firmware\"],\n"
        "\t\t\"readonlyPaths\": [\"/proc/bus\", \"/proc/fs\", \"/proc/irq\", \"/proc/sys\", \"/proc/sysrq-trigger\"]\n"
        "\t}\n"
        "}\n";

int cmd_spec(int argc, char **argv)
{
    const char *bundle = NULL, *rootless = NULL;
    bool rootless_flag = false;
    const struct cli_opt opts[] = {
            {"bundle", 'b', &bundle, NULL},
            {"rootless", 0, NULL, &rootless_flag},
            {NULL, 0, NULL, NULL},
    };
    (void)rootless;
    int i;
    int r = cli_parse_opts("spec", argc, argv, opts, g_spec_usage, &i);
    if (r != 0)
        return r > 0 ? 0 : 1;
    if (cli_apply_global() < 0)
        return 1;
    struct rt_err *err = NULL;
    if (i != argc) {
        rt_err_make(&err, 0, "spec: unexpected argument `%s`", argv[i]);
        return rt_err_report(&err);
    }
    char path[PATH_MAX];
    snprintf(path, sizeof(path), "%s/config.json", bundle ? bundle : ".");
    int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd < 0) {
        if (errno == EEXIST)
            rt_err_make(&err, 0, "spec: `%s` already exists; remove it first", path);
        else
            rt_err_make(&err, errno, "spec: `%s`", path);
        return rt_err_report(&err);
    }
    size_t len = strlen(g_default_spec);
    if (write(fd, g_default_spec, len) != (ssize_t)len) {
        rt_err_make(&err, errno, "spec: writing `%s`", path);
        close(fd);
        return rt_err_report(&err);
    }
    close(fd);
    return 0;
}
