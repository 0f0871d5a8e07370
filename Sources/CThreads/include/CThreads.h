// Thread scheduling helpers that Swift's Glibc module does not expose.
#ifndef LOGSURGE_CTHREADS_H
#define LOGSURGE_CTHREADS_H

/// Raises the calling thread's nice value by `increment` (Linux: per thread), so that other
/// threads of the process win when they compete for a core. Returns 0, or -1 with errno set.
int logsurge_lower_thread_priority(int increment);

#endif
