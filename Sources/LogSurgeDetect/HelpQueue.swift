#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Jobs that whichever thread is free runs, and a lock and condition for what they share.
///
/// A thread that must wait for something (`wait(until:)`) runs the jobs posted meanwhile instead
/// of sleeping: the detectors' builder, waiting for the stepper to catch up, steps some of the
/// stepper's sites (`DetectionRun`).
final class HelpQueue: @unchecked Sendable {
    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let condition = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    /// Guarded by `mutex`.
    private var jobs: [() -> Void] = []

    init() {
        pthread_mutex_init(mutex, nil)
        pthread_cond_init(condition, nil)
    }

    deinit {
        pthread_cond_destroy(condition)
        pthread_mutex_destroy(mutex)
        mutex.deallocate()
        condition.deallocate()
    }

    /// Runs `body` under the lock, then wakes the waiting threads (what they wait for may hold).
    func change(_ body: () -> Void) {
        pthread_mutex_lock(mutex)
        body()
        pthread_mutex_unlock(mutex)
        pthread_cond_broadcast(condition)
    }

    /// Posts jobs for any thread that waits (or for the poster, when it waits next).
    func post(_ new: [() -> Void]) {
        change { jobs += new }
    }

    /// Returns once `done` holds (read under the lock), running the jobs posted meanwhile.
    func wait(until done: () -> Bool) {
        pthread_mutex_lock(mutex)
        while !done() {
            if jobs.isEmpty {
                pthread_cond_wait(condition, mutex)
            } else {
                let job = jobs.removeFirst()
                pthread_mutex_unlock(mutex)
                job()
                pthread_mutex_lock(mutex)
            }
        }
        pthread_mutex_unlock(mutex)
    }
}
