#define _GNU_SOURCE
#include "CSystem.h"

#include <errno.h>
#if defined(__GLIBC__)
#include <malloc.h>
#endif
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int logsurge_lower_thread_priority(int increment) {
#if defined(__linux__)
    pid_t thread = (pid_t)syscall(SYS_gettid);
    // On Linux PRIO_PROCESS with the process id names the main thread: the process's value.
    errno = 0;
    int base = getpriority(PRIO_PROCESS, (id_t)getpid());
    if (base == -1 && errno != 0) return -1;
    return setpriority(PRIO_PROCESS, (id_t)thread, base + increment);
#else
    (void)increment;
    return 0;
#endif
}

int logsurge_thread_nice_above_process(void) {
#if defined(__linux__)
    pid_t thread = (pid_t)syscall(SYS_gettid);
    return getpriority(PRIO_PROCESS, (id_t)thread) - getpriority(PRIO_PROCESS, (id_t)getpid());
#else
    return 0;
#endif
}

void logsurge_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}
