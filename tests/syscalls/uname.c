/* Probe: uname. */
#include <ctype.h>
#include <sys/utsname.h>

#include "tap.h"

/* Each field is a NUL-terminated string inside its 65 bytes. */
static int terminated(const char *field)
{
    return memchr(field, '\0', sizeof(((struct utsname *)0)->sysname)) != NULL;
}

static void test_uname(void)
{
    struct utsname u;

    memset(&u, 0xff, sizeof(u));
    T_OK(syscall(SYS_uname, &u), "uname");
    T_TRUE(terminated(u.sysname) && terminated(u.nodename) && terminated(u.release) &&
                    terminated(u.version) && terminated(u.machine) && terminated(u.domainname),
            "every field is NUL-terminated");
    T_STREQ(u.sysname, "Linux", "sysname is Linux");
    T_STREQ(u.machine, "x86_64", "machine is x86_64");
    T_TRUE(u.nodename[0] != '\0', "nodename is not empty");
    T_TRUE(isdigit((unsigned char)u.release[0]) && strchr(u.release, '.'), "release looks like N.N");
    T_TRUE(u.version[0] == '#', "version starts with #");
    T_TRUE(u.domainname[0] != '\0', "domainname is not empty (\"(none)\" when unset)");

    struct utsname again;
    syscall(SYS_uname, &again);
    T_TRUE(memcmp(&u, &again, sizeof(u)) == 0, "uname is stable");
    T_ERRNO(syscall(SYS_uname, BAD_PTR), EFAULT, "uname into a bad pointer: EFAULT");
    T_ERRNO(syscall(SYS_uname, NULL), EFAULT, "uname into NULL: EFAULT");
}

int main(void)
{
    tap_init("uname");
    test_uname();
    return tap_done();
}
