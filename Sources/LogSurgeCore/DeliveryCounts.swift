/// What the alert deliveries of a run came to (`--alertmanager`, `--webhook`): posts that a
/// receiver accepted, attempts made again after one failed, and posts given up (every attempt
/// failed, the receiver refused it, or its queue overflowed).
public struct DeliveryCounts: Sendable, Equatable {
    public var sent = 0
    public var retried = 0
    public var failed = 0

    public init(sent: Int = 0, retried: Int = 0, failed: Int = 0) {
        self.sent = sent
        self.retried = retried
        self.failed = failed
    }

    public static func + (left: DeliveryCounts, right: DeliveryCounts) -> DeliveryCounts {
        DeliveryCounts(sent: left.sent + right.sent, retried: left.retried + right.retried, failed: left.failed + right.failed)
    }
}
