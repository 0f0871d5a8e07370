import Foundation
import LogSurgePipelineTestSupport
import Testing

/// Reading a pipe, the binary writes an alert as soon as it is decided, not when the input ends.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct PipeAlertCLITests {
    @Test func readingAPipeTheAlertIsWrittenBeforeTheInputEnds() throws {
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["--quiet", "--alerts", "-"]
        let input = Pipe(), output = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = FileHandle.nullDevice
        try process.run()
        // Everything up to 10 minutes after the surge's onset (22:00Z, 17:00 on the -0500
        // server clock), then wait with the pipe open.
        let text = String(decoding: Support.surgeLog, as: UTF8.self)
        let cut = text.utf8.distance(from: text.startIndex, to: text.range(of: "08/Nov/2016:17:10:")!.lowerBound)
        Support.ignoreBrokenPipes()
        try input.fileHandleForWriting.write(contentsOf: Data(Support.surgeLog[..<cut]))
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
        let inTime = gotLine.wait(timeout: .now() + 60) == .success
        let stillReading = process.isRunning  // the input has not ended: the alert came first
        if !inTime { process.terminate() }
        #expect(inTime)
        #expect(stillReading)
        let line = String(decoding: received.data, as: UTF8.self)
        #expect(line.hasPrefix("{\"id\":1,\"state\":\"open\",\"kind\":\"surge\""), "\(line)")
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }

    /// Runs the binary on the surge log's lines before `cut` (a time of the server clock), with
    /// the pipe left open; the seconds until an alert line came, nil if none within `wait`.
    private func secondsToAlert(cutAt cut: String, arguments: [String], wait: Double) throws -> Double? {
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
        try input.fileHandleForWriting.close()
        process.waitUntilExit()
        return inTime && String(decoding: received.data, as: UTF8.self).contains("\"kind\":\"surge\"") ? seconds : nil
    }

    @Test("a pipe that stops in the surge's first minute: the alert line comes within --idle-flush + 5 s, not at the end")
    func aQuietPipeHasItsPendingMinutesDecided() throws {
        // Lines through 17:00:59 server time: the surge's first minute (22:00Z), which three
        // newer minutes would have decided.
        let flushed = try secondsToAlert(cutAt: "08/Nov/2016:17:01:", arguments: ["--idle-flush", "1"], wait: 6)
        #expect(flushed != nil, "no alert within 6 s with --idle-flush 1")
        // The same with the minutes left pending for 30 s: nothing in those 6 seconds.
        let held = try secondsToAlert(cutAt: "08/Nov/2016:17:01:", arguments: ["--idle-flush", "30"], wait: 6)
        #expect(held == nil, "an alert came after \(held ?? 0) s without a flush")
    }

    private final class Received: @unchecked Sendable { var data = Data() }  // one writer, read after the semaphore
}
