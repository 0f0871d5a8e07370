import Dispatch
import Foundation
import LogSurge
import LogSurgeInput
import LogSurgeReport

/// A progress line on standard error while a long run reads its inputs: bytes read of the
/// total, the rate and the time left, redrawn in place four times a second and erased at the end.
///
/// Only when standard error is a terminal (and `TERM` is not `dumb`), and only once the run has
/// taken a second: a short run, a pipe or a log file never see it.
final class ProgressLine: @unchecked Sendable {
    // Invariant: `shown` is touched only on `queue`.
    private let queue = DispatchQueue(label: "logsurge.progress")
    private let timer: DispatchSourceTimer
    private let total: Int64?
    private let startBytes = ReadProgress.bytes
    private let started = DispatchTime.now()
    private var shown = false

    /// Starts a progress line for inputs of `total` bytes (nil: unknown, as for a pipe), or
    /// returns nil when standard error is not a terminal (`total`, which lists directories and
    /// stats files, is then not asked for).
    init?(total: @autoclosure () -> Int64?, environment: [String: String] = ProcessInfo.processInfo.environment) {
        guard isatty(2) == 1, environment["TERM"] != "dumb" else { return nil }
        self.total = total()
        timer = DispatchSource.makeTimerSource(queue: queue)
        timer.schedule(deadline: .now() + 1, repeating: 0.25)
        timer.setEventHandler { [unowned self] in draw() }
        timer.resume()
    }

    private func draw() {
        let elapsed = Double(DispatchTime.now().uptimeNanoseconds - started.uptimeNanoseconds) / 1e9
        let text = Self.text(read: ReadProgress.bytes - startBytes, total: total, seconds: elapsed)
        writeStandardError("\r" + text + "\u{1B}[K")
        shown = true
    }

    /// Stops and erases the line (before the report or any message is written).
    func finish() {
        timer.cancel()
        queue.sync {
            if shown { writeStandardError("\r\u{1B}[K") }
            shown = false
        }
    }

    /// "reading 1.2 GB of 3.4 GB (35%), 640.0 MB/s, 4 s left"; without a total, the bytes and the rate.
    static func text(read: Int64, total: Int64?, seconds: Double) -> String {
        let rate = seconds > 0 ? Double(read) / seconds : 0
        if let total, total > 0 {
            // Where byte ranges of a file meet, a few bytes are read twice: never more than all.
            let done = min(read, total)
            var text = "logsurge: reading \(TextReport.bytes(done)) of \(TextReport.bytes(total)) (\(done * 100 / total)%)"
            text += ", \(TextReport.bytes(Int64(rate)))/s"
            if rate > 0 { text += ", \(clock(Double(total - done) / rate)) left" }
            return text
        }
        return "logsurge: reading \(TextReport.bytes(read)), \(TextReport.bytes(Int64(rate)))/s"
    }

    /// "4 s", "2 min 05 s", "1 h 02 min".
    static func clock(_ seconds: Double) -> String {
        let whole = Int(seconds.rounded(.up))
        if whole < 60 { return "\(whole) s" }
        if whole < 3600 { return "\(whole / 60) min \(String(format: "%02d", whole % 60)) s" }
        return "\(whole / 3600) h \(String(format: "%02d", whole % 3600 / 60)) min"
    }
}
