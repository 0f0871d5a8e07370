#define _GNU_SOURCE
#include "CSystem.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <string.h>
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

static atomic_int stop_flag = 0;

static void stop_handler(int signal_number) {
    if (atomic_exchange(&stop_flag, 1) != 0) {
        // The second request: do what the signal does by default (end the process).
        struct sigaction fallback;
        memset(&fallback, 0, sizeof fallback);
        fallback.sa_handler = SIG_DFL;
        sigaction(signal_number, &fallback, NULL);
        raise(signal_number);
    }
}

void logsurge_install_stop_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = stop_handler;
    sigemptyset(&action.sa_mask);
    // No SA_RESTART: a read or wait in progress on the receiving thread returns EINTR.
    action.sa_flags = 0;
    sigaction(SIGINT, &action, NULL);
    sigaction(SIGTERM, &action, NULL);
    // A parent may have started us with them blocked (the mask is inherited through exec):
    // this thread takes them, and threads it starts later inherit that.
    sigset_t wanted;
    sigemptyset(&wanted);
    sigaddset(&wanted, SIGINT);
    sigaddset(&wanted, SIGTERM);
    pthread_sigmask(SIG_UNBLOCK, &wanted, NULL);
}

int logsurge_stop_requested(void) { return atomic_load(&stop_flag); }

void logsurge_request_stop(void) { atomic_store(&stop_flag, 1); }

void logsurge_clear_stop(void) { atomic_store(&stop_flag, 0); }
