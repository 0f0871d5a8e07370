import Foundation
import LogSurge
import LogSurgeCore
import LogSurgeGenerate
import LogSurgeGeo
import LogSurgeInput
import LogSurgeParse

/// Helpers the test targets above the pipeline share (the pipeline's own, the reports', the
/// generator's and the CLI's): fixtures, temporary files, the embedded database, runs of the
/// pipeline, generated logs. The CLI's tests add the running of the executable.
package enum Support {
    /// `Tests/LogSurgeTests/Fixtures`, one directory for every target whose tests read it, found by
    /// its path (the golden files are written back there with `LOGSURGE_UPDATE_GOLDEN=1`).
    package static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("LogSurgeTests/Fixtures")

    package static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    package static let database: MMDBReader = try! EmbeddedCountryDatabase.open()

    package static func configuration(threads: Int = 2, chunkSize: Int = 2 << 20) -> AnalyzeConfiguration {
        var configuration = AnalyzeConfiguration(database: database, threads: threads)
        configuration.reading.chunkSize = chunkSize
        return configuration
    }

    package static func analyze(_ paths: [String], _ configure: (inout AnalyzeConfiguration) -> Void = { _ in }) -> Analysis {
        var configuration = configuration()
        configure(&configuration)
        return AnalysisPipeline(configuration: configuration).run(paths: paths)
    }

    /// The directory every temporary directory of this test process goes in: removed, with
    /// everything in it, when the process exits (a run used to leave a thousand behind). Kept
    /// short: a Unix socket's path inside it must fit in 108 bytes.
    package static let temporaryRoot: URL = {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("logsurge-tests-\(getpid())")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        atexit { try? FileManager.default.removeItem(at: Support.temporaryRoot) }
        return url
    }()

    /// A fresh temporary directory, removed when the test process exits.
    package static func temporaryDirectory() -> URL {
        let url = temporaryRoot.appendingPathComponent(UUID().uuidString)
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    package static func writeFile(_ path: String, _ data: Data) throws {
        try data.write(to: URL(fileURLWithPath: path))
    }

    package static func gzip(_ bytes: [UInt8], level: Int32 = 6) -> [UInt8] {
        let writer = GzipWriter(level: level)
        var out: [UInt8] = []
        writer.write(bytes) { out += $0 }
        writer.finish { out += $0 }
        return out
    }

    /// A UNIX socket at `path`: a file that exists and cannot be opened, even by root.
    package static func makeSocket(_ path: String) -> Int32 {
        let fd = socket(AF_UNIX, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_un()
        address.sun_family = sa_family_t(AF_UNIX)
        withUnsafeMutableBytes(of: &address.sun_path) { raw in
            let bytes = Array(path.utf8.prefix(raw.count - 1))
            raw.copyBytes(from: bytes)
        }
        let bound = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, socklen_t(MemoryLayout<sockaddr_un>.size)) }
        }
        precondition(bound == 0, "cannot bind \(path)")
        return fd
    }

    /// Synthetic traffic from the project's generator, as bytes: the same requests for a seed,
    /// whatever the layout they are written in and however visitors reach the server.
    package static func generatedLog(
        minutes: Int, rate: Double, seed: UInt64, malformedRate: Double = 0.002,
        layout: GeneratedLayout = .builtin(.combined), proxy: ProxySetup = .none,
        events: [InjectedEvent] = [], dispersion: Double = 0
    ) -> [UInt8] {
        var configuration = GeneratorConfiguration()
        configuration.minutes = minutes
        configuration.events = events
        configuration.dispersion = dispersion
        configuration.peakRate = rate
        configuration.seed = seed
        configuration.malformedRate = malformedRate
        configuration.layout = layout
        configuration.proxy = proxy
        var generator = TrafficGenerator(configuration: configuration)
        var out: [UInt8] = generator.header(minute: configuration.start)
        for minute in configuration.start..<(configuration.start + Int32(minutes)) {
            generator.appendLines(minute: minute, to: &out)
        }
        return out
    }

    /// Three hours at the US afternoon peak with a US surge after two: no day of history, so
    /// the baselines come from the last hour. Detection as a stream goes, the charts drawn from
    /// it and the binary on a terminal are all checked on it.
    package static let surgeLog: [UInt8] = {
        var configuration = GeneratorConfiguration()
        configuration.start = UTCMinute.parse("2016-11-08T20:00Z")!
        configuration.minutes = 180
        configuration.peakRate = 300
        configuration.seed = 8
        configuration.events = [InjectedEvent(kind: .surge(country: "US", factor: 8), onset: configuration.start + 120, duration: 30)]
        var generator = TrafficGenerator(configuration: configuration)
        var out: [UInt8] = []
        for minute in configuration.start..<(configuration.start + 180) { generator.appendLines(minute: minute, to: &out) }
        return out
    }()

    /// `surgeLog` in a file.
    package static let surgeLogPath: String = {
        let path = temporaryDirectory().appendingPathComponent("stream.log").path
        try! writeFile(path, Data(surgeLog))
        return path
    }()
}
