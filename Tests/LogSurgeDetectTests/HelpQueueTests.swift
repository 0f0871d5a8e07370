import Dispatch
import Testing
@testable import LogSurgeDetect

/// The queue through which the detectors' builder, while it waits, runs the stepper's jobs.
@Suite struct HelpQueueTests {
    /// What the jobs did (guarded by the queue's lock, through `change`).
    final class Done: @unchecked Sendable {
        var jobs: [Int] = []
        var flag = false
    }

    @Test("a thread that waits runs the jobs posted, in order, and returns once its condition holds")
    func waiterRunsPostedJobs() {
        let help = HelpQueue()
        let done = Done()
        help.post((0..<5).map { index in { help.change { done.jobs.append(index) } } })
        // Nobody else runs them: the waiter does, or it would wait for ever.
        help.wait(until: { done.jobs.count == 5 })
        #expect(done.jobs == [0, 1, 2, 3, 4])
        // Its condition already holding, it returns without running what is posted.
        help.post([{ help.change { done.jobs.append(5) } }])
        help.wait(until: { done.jobs.count >= 5 })
        #expect(done.jobs.count == 5)
        help.wait(until: { done.jobs.count == 6 })
        #expect(done.jobs == [0, 1, 2, 3, 4, 5])
    }

    @Test("a thread asleep in wait is woken by a job posted after it began, and runs it")
    func sleeperWokenByPost() {
        let help = HelpQueue()
        let done = Done()
        let finished = DispatchSemaphore(value: 0)
        DispatchQueue(label: "waiter").async {
            help.wait(until: { done.flag })
            finished.signal()
        }
        // The waiter is (most likely) asleep by now; the job can only be run by it.
        #expect(finished.wait(timeout: .now() + .milliseconds(50)) == .timedOut)
        help.post([{ help.change { done.flag = true } }])
        #expect(finished.wait(timeout: .now() + 30) == .success)
    }
}
