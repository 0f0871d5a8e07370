import AsyncHTTPClient
import Foundation
import LogSurgeCore
import NIOCore
import NIOHTTP1

/// One `--alertmanager` or `--webhook` address: its bounded queue of posts and the thread that
/// sends them in order.
final class Receiver: @unchecked Sendable {
    enum Kind { case alertmanager, webhook }

    /// A post waiting: a webhook's alert line, or alerts for Alertmanager (their JSON made when
    /// sent, as `endsAt` is counted from then).
    enum Post {
        case body(String)
        case alerts([AlertmanagerAlert])
    }

    let name: String
    let endpoint: String
    let kind: Kind

    // Invariant: everything below is only touched with `condition` locked.
    private let condition = NSCondition()
    private var queue: [Post] = []
    /// The first post of `queue` not yet taken (taken ones are dropped in bulk).
    private var head = 0
    private var counted = DeliveryCounts()
    private var lastError: String?
    private var answered = false
    private var overflowed = false
    /// Set by `finish`: the thread drains the queue until then, and gives up what is left.
    private var deadline: ContinuousClock.Instant?
    private let done = DispatchSemaphore(value: 0)
    private var started = false

    init(name: String, endpoint: String, kind: Kind) {
        self.name = name
        self.endpoint = endpoint
        self.kind = kind
    }

    func start(client: HTTPClient, options: AlertDelivery.Options) {
        started = true
        let thread = Thread { [self] in
            run(client: client, options: options)
            done.signal()
        }
        thread.name = "logsurge.deliver"
        thread.start()
    }

    /// Appends `post`; a full queue gives up its oldest. With `unlessWaiting`, nothing is added
    /// while a post is still waiting (the keep-alive posts of a receiver that is down).
    func enqueue(_ post: Post, unlessWaiting: Bool = false) {
        condition.lock()
        defer { condition.unlock() }
        if unlessWaiting, queue.count > head { return }
        if queue.count - head >= limit {
            head += 1
            counted.failed += 1
            lastError = "more than \(limit) posts waiting: the oldest was given up"
            overflowed = true
        }
        queue.append(post)
        condition.signal()
    }

    private var limit = 1000

    var counts: DeliveryCounts {
        condition.lock()
        defer { condition.unlock() }
        return counted
    }

    var problem: AlertDelivery.Problem? {
        condition.lock()
        defer { condition.unlock() }
        guard counted.failed > 0 else { return nil }
        return .init(receiver: name, failed: counted.failed, lastError: lastError ?? "not delivered", neverAnswered: !answered)
    }

    /// Lets the thread drain the queue until `deadline`, and waits for it.
    func finish(by deadline: ContinuousClock.Instant) {
        condition.lock()
        self.deadline = deadline
        condition.broadcast()
        condition.unlock()
        if started { done.wait() }
    }

    private func run(client: HTTPClient, options: AlertDelivery.Options) {
        condition.lock()
        limit = max(1, options.queueLimit)
        condition.unlock()
        while let post = next() {
            var attempt = 1
            var wait = options.firstBackoff
            while true {
                let outcome = send(post, client: client, options: options)
                condition.lock()
                if outcome.answered { answered = true }
                if outcome.error == nil {
                    counted.sent += 1
                    condition.unlock()
                    break
                }
                lastError = outcome.error
                let pastDeadline = deadline.map { ContinuousClock.now + .milliseconds(Int64(wait * 1000)) >= $0 } ?? false
                if !outcome.retryable || attempt >= options.attempts || pastDeadline {
                    counted.failed += 1
                    condition.unlock()
                    break
                }
                counted.retried += 1
                // Waits `wait` seconds (cut short by the deadline when `finish` sets one).
                let until = Date(timeIntervalSinceNow: wait)
                while Date() < until {
                    if let deadline, ContinuousClock.now >= deadline { break }
                    _ = condition.wait(until: until)
                }
                condition.unlock()
                attempt += 1
                wait = min(options.maximumBackoff, wait * 2)
            }
        }
    }

    /// The next post, waiting for one; nil once `finish` was called and the queue is empty, or
    /// its deadline passed (what is left is given up).
    private func next() -> Post? {
        condition.lock()
        defer { condition.unlock() }
        while true {
            if let deadline, ContinuousClock.now >= deadline {
                let left = queue.count - head
                if left > 0 {
                    counted.failed += left
                    lastError = lastError ?? "the run ended before \(left) post\(left == 1 ? " was" : "s were") sent"
                }
                queue.removeAll()
                head = 0
                return nil
            }
            if head < queue.count {
                let post = queue[head]
                head += 1
                if head >= 64, head * 2 >= queue.count {
                    queue.removeFirst(head)
                    head = 0
                }
                return post
            }
            if deadline != nil { return nil }
            condition.wait()
        }
    }

    /// One attempt: nil error when the receiver accepted it (2xx).
    private func send(
        _ post: Post, client: HTTPClient, options: AlertDelivery.Options
    ) -> (
        error: String?, retryable: Bool, answered: Bool
    ) {
        let body: String
        switch post {
        case .body(let line): body = line
        case .alerts(let alerts):
            let now = Date().timeIntervalSince1970
            body = JSONValue.array(alerts.map { .object($0.json(now: now, validity: options.validity)) }).encoded
        }
        do {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "User-Agent", value: "logsurge/\(LogSurgeVersion.string)")
            let request = try HTTPClient.Request(url: endpoint, method: .POST, headers: headers, body: .string(body))
            let response = try client.execute(request: request, deadline: .now() + .milliseconds(Int64(options.timeout * 1000)))
                .wait()
            let status = Int(response.status.code)
            if (200..<300).contains(status) { return (nil, false, true) }
            var reason = "HTTP \(status)"
            if var answer = response.body, let text = answer.readString(length: min(answer.readableBytes, 200)) {
                let line = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
                if !line.isEmpty { reason += ": " + line }
            }
            // A request refused as it is will be refused again; a server in trouble may recover.
            return (reason, status >= 500 || status == 408 || status == 429, true)
        } catch {
            return (Self.describe(error), true, false)
        }
    }

    /// An error as a person reads it (not Foundation's or NIO's type names).
    static func describe(_ error: any Error) -> String {
        if let error = error as? HTTPClientError {
            switch error {
            case .connectTimeout: return "no connection within the timeout"
            case .readTimeout, .deadlineExceeded: return "no answer within the timeout"
            case .remoteConnectionClosed: return "the connection was closed before an answer"
            default: return "\(error)"
            }
        }
        if let error = error as? IOError { return "connection failed: \(String(cString: strerror(error.errnoCode)))" }
        let text = "\(type(of: error)): \(error)"
        return text.contains("connectionRefused") || text.contains("ECONNREFUSED") ? "connection refused" : text
    }
}
