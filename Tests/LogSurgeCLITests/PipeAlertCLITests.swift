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

    private final class Received: @unchecked Sendable { var data = Data() }  // one writer, read after the semaphore
}
