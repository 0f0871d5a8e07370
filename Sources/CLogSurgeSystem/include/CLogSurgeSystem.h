// System calls that Swift's Glibc module does not expose: thread priority, returning memory.
#ifndef LOGSURGE_CSYSTEM_H
#define LOGSURGE_CSYSTEM_H

/// Sets the calling thread's nice value (Linux: per thread) to the process's plus `increment`,
/// so that the process's other threads win when they compete for a core. Idempotent: a pooled
/// thread that did this before stays at the same value. Returns 0, or -1 with errno set.
int logsurge_lower_thread_priority(int increment);

/// The calling thread's nice value minus the process's (0 where threads have none of their own).
int logsurge_thread_nice_above_process(void);

/// Returns the allocator's free memory to the system (glibc's malloc_trim), so that what a
/// finished input's buffers and tallies used does not stay resident for the rest of the run.
void logsurge_release_free_memory(void);

/// Has glibc's malloc serve every thread from one arena (unless the environment sets
/// MALLOC_ARENA_MAX, whatever its value, or GLIBC_TUNABLES names glibc.malloc.arena_max):
/// with an arena a thread, the memory each thread freed stayed with its arena, 5 to 10 MB
/// more resident at the peak (the 4 rotated archives: 85 MB against 90 to 99), and no run was
/// faster for it (the hot paths allocate little; small blocks come from each thread's cache). Call once, early, before the worker threads start.
void logsurge_use_one_malloc_arena(void);

/// Makes SIGINT and SIGTERM request a stop instead of killing the process: the first one sets
/// the flag that `logsurge_stop_requested` reads (reads and waits then end, and the run writes
/// what it has); a second one of either kills the process as usual. Call once, early.
void logsurge_install_stop_handlers(void);

/// Makes SIGINT, SIGTERM and SIGHUP (unless ignored) remove the temporary files kept with
/// `logsurge_make_temporary`, then end the process as they do by default: a batch run killed
/// leaves no half-written output beside its real ones. (The second signal of the stop
/// handlers does the same.) Call once, early.
void logsurge_install_cleanup_handlers(void);

/// `mkostemp(template_path, O_CLOEXEC)`, the file kept to be removed if a signal ends the
/// process (16 at a time), with no signal in between; `*slot` is its slot to forget it by
/// (-1: not kept, for want of room, or not made).
int logsurge_make_temporary(char *template_path, int *slot);

/// Forgets the temporary file of `slot` (renamed into place or removed).
void logsurge_forget_temporary(int slot);

/// Whether SIGINT or SIGTERM arrived since `logsurge_install_stop_handlers` (or
/// `logsurge_request_stop` was called). Safe from any thread.
int logsurge_stop_requested(void);

/// Sets the stop flag as a signal would (for tests and for callers that end a run themselves).
void logsurge_request_stop(void);

/// Clears the stop flag (tests run several stops in one process).
void logsurge_clear_stop(void);

#endif
