import CLogSurgeSystem
import Dispatch
import Foundation
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse
import Synchronization
import LogSurgeCore
@_spi(Pipeline) import LogSurgeAggregate
import LogSurgeDetect

/// The country tables as they are built; each worker looks once per chunk.
final class CountryTablesSlot: Sendable {
    private let slot = Mutex(CountryTables())
    private let abandoned = Atomic<Bool>(false)

    /// Set once the run no longer needs the tables.
    var isAbandoned: Bool {
        get { abandoned.load(ordering: .relaxed) }
        set { abandoned.store(newValue, ordering: .relaxed) }
    }

    var tables: CountryTables {
        get { slot.withLock { $0 } }
        set { slot.withLock { $0 = newValue } }
    }
}

/// Calls `body` every `interval` seconds on a thread of its own until `stop()` (made and
/// stopped by one thread).
final class SnapshotTicker {
    private let queue = DispatchQueue(label: "logsurge.snapshot", qos: .utility)
    private let timer: DispatchSourceTimer

    /// Calls `body` every `interval` seconds, the first time at once with `atStart`.
    init(interval: Double, atStart: Bool = false, body: @escaping @Sendable () -> Void) {
        timer = DispatchSource.makeTimerSource(queue: queue)
        let interval = max(0.01, interval)
        timer.schedule(deadline: .now() + (atStart ? 0 : interval), repeating: interval, leeway: .milliseconds(100))
        timer.setEventHandler(handler: body)
        timer.activate()
    }

    /// Stops the calls, and waits for one under way: none comes after this returns.
    func stop() {
        timer.cancel()
        queue.sync {}
    }
}

/// Hands out input indices in order to the reader threads.
final class InputClaims: @unchecked Sendable {
    // Invariant: `next` is only touched under `lock`.
    private let lock = NSLock()
    private var nextIndex = 0
    private let count: Int

    init(count: Int) { self.count = count }

    func next() -> Int? {
        lock.withLock {
            guard nextIndex < count else { return nil }
            defer { nextIndex += 1 }
            return nextIndex
        }
    }
}

/// A FIFO of work items; `pop` blocks until an item (or the end marker `nil`) arrives.
final class WorkQueue: @unchecked Sendable {
    // Invariant: `items` is only touched under `lock`; `available` counts its elements.
    private let lock = NSLock()
    private let available = DispatchSemaphore(value: 0)
    private var items: [WorkItem?] = []
    private var head = 0

    func push(_ item: WorkItem?) {
        lock.withLock { items.append(item) }
        available.signal()
    }

    func pop() -> WorkItem? {
        available.wait()
        return lock.withLock {
            let item = items[head]
            items[head] = nil
            head += 1
            if head > 64, head * 2 > items.count {
                items.removeFirst(head)
                head = 0
            }
            return item
        }
    }
}
