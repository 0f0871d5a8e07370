#define _GNU_SOURCE
#include "CLogSurgeSystem.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
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

void logsurge_use_one_malloc_arena(void) {
#if defined(__GLIBC__) && defined(M_ARENA_MAX)
    // Either way an operator may have set the limit: the variable, or glibc's tunable.
    const char *tunables = getenv("GLIBC_TUNABLES");
    if (getenv("MALLOC_ARENA_MAX") == NULL && (tunables == NULL || strstr(tunables, "glibc.malloc.arena_max") == NULL)) {
        mallopt(M_ARENA_MAX, 1);
    }
#endif
}

void logsurge_release_free_memory(void) {
#if defined(__GLIBC__)
    malloc_trim(0);
#endif
}

// Temporary output files (written, then renamed into place) a signal that ends the process
// would leave behind: their paths, copied in by `keep_temporary`, unlinked by the
// handlers below (unlink is async-signal-safe). A slot is claimed with its state: 0 free,
// 1 being written, 2 set (the handler unlinks only set slots).
#define TEMPORARY_SLOTS 16
static char temporary_paths[TEMPORARY_SLOTS][4096];
static atomic_int temporary_states[TEMPORARY_SLOTS];

/// Keeps `path` to be removed if a signal ends the process; its slot, or -1 when there is no
/// room (16 at a time) or the path is too long.
static int keep_temporary(const char *path) {
    size_t length = strlen(path);
    if (length >= sizeof temporary_paths[0]) return -1;
    for (int slot = 0; slot < TEMPORARY_SLOTS; slot++) {
        int expected = 0;
        if (atomic_compare_exchange_strong(&temporary_states[slot], &expected, 1)) {
            memcpy(temporary_paths[slot], path, length + 1);
            atomic_store(&temporary_states[slot], 2);
            return slot;
        }
    }
    return -1;
}

int logsurge_make_temporary(char *template_path, int *slot) {
    // No signal between the file's creation and its keeping: it would be left behind.
    sigset_t ending, previous;
    sigemptyset(&ending);
    sigaddset(&ending, SIGINT);
    sigaddset(&ending, SIGTERM);
    sigaddset(&ending, SIGHUP);
    pthread_sigmask(SIG_BLOCK, &ending, &previous);
    int fd = mkostemp(template_path, O_CLOEXEC);
    *slot = fd >= 0 ? keep_temporary(template_path) : -1;
    int saved = errno;
    pthread_sigmask(SIG_SETMASK, &previous, NULL);
    errno = saved;
    return fd;
}

void logsurge_forget_temporary(int slot) {
    if (slot >= 0 && slot < TEMPORARY_SLOTS) atomic_store(&temporary_states[slot], 0);
}

static void unlink_temporaries(void) {
    for (int slot = 0; slot < TEMPORARY_SLOTS; slot++) {
        int expected = 2;
        if (atomic_compare_exchange_strong(&temporary_states[slot], &expected, 0)) unlink(temporary_paths[slot]);
    }
}

/// Ends the process as `signal_number` does by default, after removing the temporary files.
static void end_as_by_default(int signal_number) {
    unlink_temporaries();
    struct sigaction fallback;
    memset(&fallback, 0, sizeof fallback);
    fallback.sa_handler = SIG_DFL;
    sigaction(signal_number, &fallback, NULL);
    raise(signal_number);
}

void logsurge_install_cleanup_handlers(void) {
    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = end_as_by_default;
    sigemptyset(&action.sa_mask);
    int signals[] = {SIGINT, SIGTERM, SIGHUP};
    for (unsigned index = 0; index < sizeof signals / sizeof signals[0]; index++) {
        struct sigaction current;
        // A signal the caller ignores (nohup's SIGHUP) stays ignored.
        if (sigaction(signals[index], NULL, &current) == 0 && current.sa_handler == SIG_IGN) continue;
        sigaction(signals[index], &action, NULL);
    }
}

static atomic_int stop_flag = 0;

static void stop_handler(int signal_number) {
    // The second request: do what the signal does by default (end the process).
    if (atomic_exchange(&stop_flag, 1) != 0) end_as_by_default(signal_number);
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
