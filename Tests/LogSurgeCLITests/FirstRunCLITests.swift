import Foundation
import LogSurgePipelineTestSupport
import Testing

/// What a first-time user ran into: each answer says what is wrong in the user's words.
@Suite(.tags(.launchesBinary), .enabled(if: Support.executable != nil, "the logsurge executable is not built"))
struct FirstRunCLITests {
    /// Files compressed by a tool logsurge does not read: an input error naming the tool, not
    /// binary bytes parsed as malformed lines.
    @Test(
        arguments: [
            ("xz", [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00, 0x00, 0x04, 0xE6, 0xD6]),
            ("zstd", [0x28, 0xB5, 0x2F, 0xFD, 0x24, 0x00, 0x01, 0x02, 0x03, 0x04]),
            ("bzip2", [0x42, 0x5A, 0x68, 0x39, 0x31, 0x41, 0x59, 0x26, 0x53, 0x59]),
            ("lz4", [0x04, 0x22, 0x4D, 0x18, 0x64, 0x40, 0xA7, 0x00, 0x00, 0x00]),
            ("zip", [0x50, 0x4B, 0x03, 0x04, 0x14, 0x00, 0x00, 0x00, 0x08, 0x00]),
        ] as [(String, [UInt8])])
    func aFileOfAnotherCompressionIsAnInputErrorSayingSo(tool: String, magic: [UInt8]) throws {
        let directory = Support.temporaryDirectory()
        let path = directory.appendingPathComponent("access.log.2").path
        var bytes = magic
        var random = SystemRandomNumberGenerator()
        for _ in 0..<20_000 { bytes.append(UInt8.random(in: 0...255, using: &random)) }
        try Support.writeFile(path, Data(bytes))
        let summary = Support.temporaryDirectory().appendingPathComponent("s.json").path
        for input in [path, directory.path] {
            let result = try Support.run(["--quiet", "--summary", summary, input])
            #expect(result.status == 1)
            #expect(result.stderr.contains("access.log.2: \(tool)-compressed, which logsurge does not read"), "\(result.stderr)")
            let object = try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary))) as? [String: Any]
            #expect(object?["lines"] as? Int == 0)
        }
        // The same bytes through a pipe.
        let piped = try Support.run(["--quiet", "-"], stdin: bytes)
        #expect(piped.status == 1)
        #expect(piped.stderr.contains("\(tool)-compressed"))
    }

    @Test(arguments: [
        (
            ["--event", "surge:US:10:2016-11-10T00:00Z:60"],
            "has no minute inside the generated window, 2016-11-08T00:00Z to 2016-11-08T23:59Z"
        ),
        (["--event", "surge:US:10:2016-11-09T00:00Z:60"], "has no minute inside the generated window"),
        (["--event", "errors:0.4:2016-11-07T23:00Z:60"], "has no minute inside the generated window"),
        (["--event", "surge:US:5:2016-11-07T23:00Z:30:15"], "has no minute inside the generated window"),  // ramps included
        (["--event", "surge:ZZ:10:2016-11-08T02:00Z:60"], "ZZ is not among the generated site's visitors' countries"),
        (["--event", "crawler:XX:100:2016-11-08T02:00Z:60"], "XX is not among the generated site's visitors' countries"),
    ])
    func generateRefusesEventsThatCannotHappen(arguments: [String], message: String) throws {
        let result = try Support.run(
            ["generate", "--start", "2016-11-08T00:00Z", "--minutes", "1440", "--output", "/dev/null"] + arguments)
        #expect(result.status == 2)
        #expect(result.stderr.contains(message), "\(result.stderr)")
    }

    @Test(
        "generate refuses a window outside the years 1970 to 3999 (it wrote logs analyze read as nothing) and writes one inside, read whole"
    )
    func generateWithinTheYearsReadBack() throws {
        for (start, length) in [
            ("0500-06-01T12:00Z", ["--minutes", "10"]), ("1970-01-01T23:59Z", ["--minutes", "10"]),
            ("3999-12-30T23:00Z", ["--minutes", "120"]), ("5000-01-01T00:00Z", ["--minutes", "1"]),
        ] {
            let result = try Support.run(["generate", "--start", start, "--output", "/dev/null"] + length)
            #expect(result.status == 2 && result.stderr.contains("the years 1970 to 3999"), "\(start): \(result.stderr)")
        }
        // Days counted before they are multiplied (a huge number overflowed: a trap).
        for days in ["9999999999999999", "-9999999999999999"] {
            let result = try Support.run(["generate", "--days=\(days)", "--output", "/dev/null"])
            #expect(result.status == 2 && result.stderr.contains("between 1 minute and 5 years"), "\(days): \(result.stderr)")
        }
        let directory = Support.temporaryDirectory().path
        defer { try? FileManager.default.removeItem(atPath: directory) }
        // The epoch formats too (Caddy's `ts`: a negative number before 1970).
        for (start, format) in [("1970-01-02T00:00Z", "caddy"), ("1970-01-02T00:00Z", "combined"), ("3999-12-30T22:00Z", "combined")] {
            let log = "\(directory)/\(start)-\(format).log"
            let written = try Support.run([
                "generate", "--start", start, "--minutes", "120", "--rate", "5", "--format", format, "--output", log,
            ])
            #expect(written.status == 0, "\(written.stderr)")
            let read = try Support.run(["--quiet", "--format", format, "--summary", "-", log])
            let summary = try #require(try JSONSerialization.jsonObject(with: Data(read.stdout.utf8)) as? [String: Any])
            let malformed = (summary["malformed"] as? [String: Int])?.filter { $0.key != "bad_request" && $0.key != "bad_format" } ?? [:]
            #expect(malformed.values.allSatisfy { $0 == 0 } && (summary["parsed"] as? Int ?? 0) > 0, "\(start) \(format): \(read.stdout)")
        }
    }

    /// An event that runs past either end of the window is generated as far as the window goes.
    @Test(arguments: ["surge:US:10:2016-11-08T23:30Z:60", "errors:0.4:2016-11-07T23:00Z:61", "surge:US:5:2016-11-07T23:00Z:30:16"])
    func anEventOverlappingTheWindowIsGenerated(event: String) throws {
        let result = try Support.run([
            "generate", "--start", "2016-11-08T00:00Z", "--minutes", "1440", "--output", "/dev/null", "--event", event,
        ])
        #expect(result.status == 0, "\(result.stderr)")
    }

    @Test(arguments: ["--surge-ratio", "--sustained-surge-ratio", "--share-ratio", "--error-share-ratio"])
    func aNegativeRatioSaysTheRatioMustBeAtLeastOne(option: String) throws {
        let result = try Support.run([option, "-1", Support.surgeLogPath])
        #expect(result.status == 2)
        #expect(result.stderr.contains("\(option) must be at least 1"), "\(result.stderr)")
        let detect = try Support.run(["detect", option, "-2", Support.surgeLogPath])
        #expect(detect.stderr.contains("\(option) must be at least 1"), "\(detect.stderr)")
    }

    @Test func foundationsWordingNeverReachesTheUser() throws {
        let result = try Support.run(["generate", "--minutes", "10", "--rotate", "/proc/no-such-directory/logs"])
        #expect(result.status != 0)
        #expect(result.stderr.contains("/proc/no-such-directory"), "\(result.stderr)")
        for foundation in ["The operation could not be completed", "NSCocoaErrorDomain", "Error Domain=", "The file doesn’t exist"] {
            #expect(!result.stderr.contains(foundation), "\(result.stderr)")
        }
    }

    @Test func aFollowedLogsMetricsAreWrittenAtStartUp() throws {
        let directory = Support.temporaryDirectory()
        let log = directory.appendingPathComponent("access.log").path
        try Support.writeFile(log, Data(Support.surgeLog.prefix(2000)))
        let metrics = directory.appendingPathComponent("logsurge.prom").path
        let process = Process()
        process.executableURL = Support.executable!
        process.arguments = ["--follow", "--quiet", "--metrics", metrics, log]  // rewritten every 60 s
        process.standardError = FileHandle.nullDevice
        try process.run()
        defer { if process.isRunning { process.terminate() } }
        let began = Date()
        #expect(Support.eventually { FileManager.default.fileExists(atPath: metrics) })
        #expect(Date().timeIntervalSince(began) < 30, "not written at start-up")
        #expect(try String(contentsOfFile: metrics, encoding: .utf8).contains("logsurge_build_info"))
        kill(process.processIdentifier, SIGINT)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
    }
}
