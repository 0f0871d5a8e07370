#define _GNU_SOURCE
#include "CThreads.h"

#include <errno.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

int logsurge_lower_thread_priority(int increment) {
#if defined(__linux__)
    pid_t thread = (pid_t)syscall(SYS_gettid);
    errno = 0;
    int current = getpriority(PRIO_PROCESS, (id_t)thread);
    if (current == -1 && errno != 0) return -1;
    return setpriority(PRIO_PROCESS, (id_t)thread, current + increment);
#else
    (void)increment;
    return 0;
#endif
}
