/* Fakes the VFS links against in tests (vfs_fakes.c). */
#ifndef MOAT_TESTS_UNIT_VFS_FAKES_H
#define MOAT_TESTS_UNIT_VFS_FAKES_H

#include "kernel/task/task.h"

extern struct task g_task;
extern struct thread_group g_tg;

#endif
