/* Host-side set-up of a sandbox and the start of its kernel process. */
#ifndef MOAT_SANDBOX_SANDBOX_H
#define MOAT_SANDBOX_SANDBOX_H

#include <stdbool.h>
#include <stdint.h>

struct sandbox_config {
    char *const *argv;    /* the app's command line; argv[0] resolved in the sandbox */
    char *const *envp;    /* its environment */
    const char *cwd;      /* its working directory (a path inside the sandbox) */
    const char *root;     /* host directory that becomes the sandbox's / */
    const char *platform; /* NULL: the default */
    bool strace;
    uint64_t memory_limit; /* bytes of memory the sandbox's apps may hold; 0: none */
};

/* Runs the sandbox to completion: starts the kernel process in new
 * namespaces, forwards termination signals to it, and returns the exit
 * code the CLI should exit with (the app's, 128+signal, or 125 when the
 * sandbox could not start; the error is already printed). */
int sandbox_run(const struct sandbox_config *cfg);

#endif
