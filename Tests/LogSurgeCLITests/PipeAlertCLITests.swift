import Foundation
import LogSurgePipelineTestSupport
import Testing

/// Reading a pipe, the binary writes an alert as soon as it is decided, not when the input ends.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct PipeAlertCLITests {
    @Test func readingAPipeTheAlertIsWrittenBeforeTheInputEnds() throws {
        // Everything up to 10 minutes after the surge's onset (22:00Z, 17:00 on the -0500
        // server clock), then wait with the pipe open.
        let alert = try firstLine(cutAt: "08/Nov/2016:17:10:", arguments: [], wait: 60)
        #expect(alert.seconds != nil)
        #expect(alert.stillReading)  // the input had not ended: the alert came first
        #expect(alert.line.hasPrefix("{\"id\":1,\"state\":\"open\",\"kind\":\"surge\""), "\(alert.line)")
        #expect(alert.status == 0)
    }

    /// Runs the binary on the surge log's lines before `cut` (a time of the server clock), with
    /// the pipe left open for up to `wait` seconds: the first line it wrote, the seconds it took
    /// (nil if none came), whether the binary was still reading when it came, and its exit
    /// status once the pipe was closed.
    private func firstLine(
        cutAt cut: String, arguments: [String], wait: Double
    ) throws -> (line: String, seconds: Double?, stillReading: Bool, status: Int32) {
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["--quiet", "--alerts", "-"] + arguments
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        let text = String(decoding: Support.surgeLog, as: UTF8.self)
        let end = text.utf8.distance(from: text.startIndex, to: text.range(of: cut)!.lowerBound)
        Support.ignoreBrokenPipes()
        try input.fileHandleForWriting.write(contentsOf: Data(Support.surgeLog[..<end]))
        let began = Date()
        let received = Received()
        let gotLine = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            while !received.data.contains(UInt8(ascii: "\n")) {
                let chunk = output.fileHandleForReading.availableData
                if chunk.isEmpty { break }
                received.data += chunk
            }
            gotLine.signal()
        }
        let inTime = gotLine.wait(timeout: .now() + wait) == .success
        let seconds = Date().timeIntervalSince(began)
        let stillReading = process.isRunning
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        let line = String(decoding: received.data, as: UTF8.self)
        return (line, inTime && line.contains("\n") ? seconds : nil, stillReading, process.terminationStatus)
    }

    @Test("a pipe that stops in the surge's first minute: the alert line comes within --idle-flush + 5 s, not at the end")
    func aQuietPipeHasItsPendingMinutesDecided() throws {
        // Lines through 17:00:59 server time: the surge's first minute (22:00Z), which three
        // newer minutes would have decided.
        let flushed = try firstLine(cutAt: "08/Nov/2016:17:01:", arguments: ["--idle-flush", "1"], wait: 6)
        #expect(flushed.seconds != nil && flushed.line.contains("\"kind\":\"surge\""), "no alert within 6 s with --idle-flush 1")
        // The same with the minutes left pending for 30 s: nothing in those 6 seconds.
        let held = try firstLine(cutAt: "08/Nov/2016:17:01:", arguments: ["--idle-flush", "30"], wait: 6)
        #expect(held.seconds == nil, "an alert came after \(held.seconds ?? 0) s without a flush")
    }

    @Test("old lines through a pipe that pauses longer than --idle-flush: no drop, no line late, the surge raised")
    func aPausedReaderOfOldLinesIsNoOutage() throws {
        let process = Process()
        process.executableURL = Support.executable!
        let summaryPath = Support.temporaryDirectory().appendingPathComponent("summary.json").path
        process.arguments = ["--quiet", "--alerts", "-", "--idle-flush", "0.5", "--summary", summaryPath]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        Support.ignoreBrokenPipes()
        let text = String(decoding: Support.surgeLog, as: UTF8.self)
        // Before the surge: 21:30Z (16:30 server time), then 4 seconds with nothing.
        let cut = text.utf8.distance(from: text.startIndex, to: text.range(of: "08/Nov/2016:16:30:")!.lowerBound)
        let collected = Received()
        let done = DispatchSemaphore(value: 0)
        DispatchQueue.global().async {
            collected.data = output.fileHandleForReading.readDataToEndOfFile()
            done.signal()
        }
        try input.fileHandleForWriting.write(contentsOf: Data(Support.surgeLog[..<cut]))
        Thread.sleep(forTimeInterval: 4)
        try input.fileHandleForWriting.write(contentsOf: Data(Support.surgeLog[cut...]))
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        done.wait()
        let lines = String(decoding: collected.data, as: UTF8.self).split(separator: "\n")
        #expect(!lines.contains { $0.contains("\"kind\":\"drop\"") }, "\(lines)")
        #expect(lines.contains { $0.contains("\"kind\":\"surge\"") })
        let summary = String(decoding: try Data(contentsOf: URL(fileURLWithPath: summaryPath)), as: UTF8.self)
        #expect(summary.contains("\"late_lines\":0"), "\(summary)")
        #expect(process.terminationStatus == 0)
    }

    private final class Received: @unchecked Sendable { var data = Data() }  // one writer, read after the semaphore
}
