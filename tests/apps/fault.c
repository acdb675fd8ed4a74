/*
 * A static program that dies by a signal the way an app can: `fault unmapped`
 * touches memory it has munmapped, `fault null` writes to NULL, `fault
 * readonly` writes to a PROT_READ page, `fault abort` calls abort(). Under
 * moat the exit status must be 128+signal, as natively through a shell.
 */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

int main(int argc, char **argv)
{
    if (argc < 2)
        return 2;
    if (!strcmp(argv[1], "unmapped")) {
        volatile char *p = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 3;
        p[0] = 1;
        if (munmap((void *)p, 4096) != 0)
            return 4;
        p[0] = 2;
    } else if (!strcmp(argv[1], "null")) {
        volatile int *volatile np = NULL; /* both volatile, or gcc drops the store */
        *np = 1;
    } else if (!strcmp(argv[1], "readonly")) {
        volatile char *p = mmap(NULL, 4096, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        if (p == MAP_FAILED)
            return 3;
        p[0] = 1;
    } else if (!strcmp(argv[1], "abort")) {
        abort();
    }
    return 0;
}
