import Foundation
import LogSurgePipelineTestSupport
import LogSurgeReport
import Testing

/// The binary on a terminal: `script` gives it a pseudo-terminal as standard output and error.
@Suite(
    .tags(.launchesBinary),
    .enabled(
        if: Support.executable != nil && FileManager.default.isExecutableFile(atPath: "/usr/bin/script"),
        "needs the logsurge executable and script(1)"))
struct TerminalCLITests {
    /// Output of `command` (a shell command line) run on a pseudo-terminal, both streams together.
    static func onTerminal(_ command: String, environment: [String: String] = [:]) throws -> String {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/script")
        process.arguments = ["-qec", command, "/dev/null"]
        var variables = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        variables["TERM"] = "xterm"
        if environment["NO_COLOR"] == nil { variables["NO_COLOR"] = nil }
        process.environment = variables
        let output = Pipe()
        process.standardOutput = output
        process.standardInput = FileHandle.nullDevice
        try Support.launch(process)
        let data = output.fileHandleForReading.readDataToEndOfFile()
        process.waitUntilExit()
        #expect(process.terminationStatus == 0, "\(String(decoding: data, as: UTF8.self))")
        return String(decoding: data, as: UTF8.self)
    }

    static var binary: String { "'\(Support.executable!.path)'" }
    static var log: String { "'\(Support.surgeLogPath)'" }

    @Test func colourOnATerminalUnlessNO_COLOR() throws {
        let coloured = try Self.onTerminal("\(Self.binary) \(Self.log)")
        #expect(coloured.contains("\u{1B}[1mWatched countries\u{1B}[0m"))
        #expect(coloured.contains("\u{1B}[31m#1 surge\u{1B}[0m"))
        let plain = try Self.onTerminal("\(Self.binary) \(Self.log)", environment: ["NO_COLOR": "1"])
        #expect(plain.contains("Watched countries"))
        // No colour (a progress line, if the run took long enough for one, erases itself with ESC [K).
        #expect(!plain.contains("\u{1B}[0m") && !plain.contains("\u{1B}[1m"))
        // Into a pipe, never.
        let piped = try Support.run([Support.surgeLogPath])
        #expect(piped.stdout.contains("Watched countries") && !piped.stdout.contains("\u{1B}"))
        // The report on standard error (standard output took the buckets) follows standard error.
        let split = try Self.onTerminal("\(Self.binary) --buckets - \(Self.log) > /dev/null")
        #expect(split.contains("\u{1B}[1mWatched countries"))
    }

    @Test func aBareRunOnATerminalSaysItReadsStandardInput() throws {
        // `script` ends the terminal's input (Ctrl-D) as its own input, /dev/null, ends.
        let output = try Self.onTerminal(Self.binary, environment: ["NO_COLOR": "1"])
        #expect(output.hasPrefix("logsurge: reading access-log lines from standard input (this terminal): paste lines, then Ctrl-D to end"))
        #expect(!output.contains("logsurge: reading 0 B"))  // no progress line of nothing
        // From a pipe, nothing is said.
        let piped = try Support.run(["--quiet"], stdin: Array(Support.surgeLog.prefix(1000)))
        #expect(!piped.stderr.contains("standard input"))
    }

    @Test func progressLineWhileALongRunReads() throws {
        // A pipe that stays open for 2.5 s: the progress line is drawn, then erased before the report.
        let output = try Self.onTerminal("(cat \(Self.log); sleep 2.5) | \(Self.binary) -", environment: ["NO_COLOR": "1"])
        // Redrawn in place; the last drawing has every byte.
        let progress = try #require(output.range(of: "logsurge: reading ", options: .backwards), "\(output.prefix(300))")
        #expect(output[progress.upperBound...].hasPrefix(TextReport.bytes(Int64(Support.surgeLog.count)) + ", "))
        #expect(output.components(separatedBy: "\rlogsurge: reading ").count > 2)
        #expect(output[progress.lowerBound...].contains("/s\u{1B}[K"))
        let erased = try #require(output.range(of: "\r\u{1B}[K", options: .backwards))
        let report = try #require(output.range(of: "Input: "))
        #expect(erased.upperBound <= report.lowerBound)
        // Quiet, or a short run: no line at all.
        #expect(!(try Self.onTerminal("(cat \(Self.log); sleep 1.5) | \(Self.binary) --quiet -")).contains("reading"))
        let tiny = Support.temporaryDirectory().appendingPathComponent("tiny.log").path
        try Support.writeFile(tiny, Data("1.2.3.4 - - [08/Nov/2016:15:00:10 -0500] \"GET / HTTP/1.1\" 200 1 \"-\" \"x\"\n".utf8))
        #expect(!(try Self.onTerminal("\(Self.binary) '\(tiny)'")).contains("logsurge: reading"))
    }
}
