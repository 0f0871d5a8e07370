import Foundation
@testable import LogSurge
import LogSurgeGeo

/// Shared helpers: fixtures, temporary files, the embedded database, runs of the pipeline.
enum Support {
    static let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

    static func fixture(_ name: String) -> String { fixtures.appendingPathComponent(name).path }

    static let database: MMDBReader = try! EmbeddedCountryDatabase.open()

    static func configuration(threads: Int = 2, chunkSize: Int = 2 << 20) -> AnalyzeConfiguration {
        var configuration = AnalyzeConfiguration(database: database, threads: threads)
        configuration.chunkSize = chunkSize
        return configuration
    }

    static func analyze(_ paths: [String], _ configure: (inout AnalyzeConfiguration) -> Void = { _ in }) -> Analysis {
        var configuration = configuration()
        configure(&configuration)
        return AnalysisPipeline(configuration: configuration).run(paths: paths)
    }

    /// A fresh temporary directory, removed when the process ends is not guaranteed: tests keep them small.
    static func temporaryDirectory() -> URL {
        let url = FileManager.default.temporaryDirectory.appendingPathComponent("logsurge-tests-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
        return url
    }

    static func writeFile(_ path: String, _ data: Data) throws {
        try data.write(to: URL(fileURLWithPath: path))
    }

    static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        let writer = GzipWriter()
        var out: [UInt8] = []
        writer.write(bytes) { out += $0 }
        writer.finish { out += $0 }
        return out
    }

    static func bucketsCSV(_ analysis: Analysis) throws -> String {
        let directory = temporaryDirectory()
        let path = directory.appendingPathComponent("buckets.csv").path
        let sink = try OutputSink(path: path)
        try BucketWriter.write(analysis.buckets.rows(), format: .csv, to: sink)
        try sink.close()
        return try String(contentsOfFile: path, encoding: .utf8)
    }

    /// Synthetic traffic from the project's generator, as bytes.
    static func generatedLog(minutes: Int, rate: Double, seed: UInt64, malformedRate: Double = 0.002) -> [UInt8] {
        var configuration = GeneratorConfiguration()
        configuration.minutes = minutes
        configuration.peakRate = rate
        configuration.seed = seed
        configuration.malformedRate = malformedRate
        var generator = TrafficGenerator(configuration: configuration)
        var out: [UInt8] = []
        for minute in configuration.start..<(configuration.start + Int32(minutes)) {
            generator.appendLines(minute: minute, to: &out)
        }
        return out
    }

    /// The built `logsurge` executable next to the test bundle, if there is one.
    static var executable: URL? {
        var directory = URL(fileURLWithPath: CommandLine.arguments[0]).deletingLastPathComponent()
        for _ in 0..<4 {
            let candidate = directory.appendingPathComponent("logsurge")
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
            directory.deleteLastPathComponent()
        }
        for configuration in ["debug", "release"] {
            let candidate = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
                .appendingPathComponent("../../.build/\(configuration)/logsurge").standardized
            if FileManager.default.isExecutableFile(atPath: candidate.path) { return candidate }
        }
        return nil
    }

    /// Writing into a pipe whose reader has exited must fail with EPIPE, not kill the test process.
    static func ignoreBrokenPipes() { signal(SIGPIPE, SIG_IGN) }

    private final class Box: @unchecked Sendable {
        var data = Data()   // written by one thread, read after group.wait()
    }

    struct RunResult {
        var status: Int32
        var stdout: String
        var stderr: String
    }

    /// Runs the executable with `arguments`, feeding `stdin`, with `environment` added to ours.
    static func run(_ arguments: [String], stdin: [UInt8] = [], environment: [String: String] = [:]) throws -> RunResult {
        ignoreBrokenPipes()
        let process = Process()
        process.executableURL = executable!
        process.arguments = arguments
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
        let input = Pipe(), output = Pipe(), error = Pipe()
        process.standardInput = input
        process.standardOutput = output
        process.standardError = error
        try process.run()
        let writer = Thread {
            // The child may exit before reading it all (a usage error): that is EPIPE, not a crash.
            try? input.fileHandleForWriting.write(contentsOf: Data(stdin))
            try? input.fileHandleForWriting.close()
        }
        writer.start()
        // Drain standard error on another thread so a full pipe cannot stall the child.
        let errors = Box()
        let group = DispatchGroup()
        group.enter()
        DispatchQueue.global().async { errors.data = error.fileHandleForReading.readDataToEndOfFile(); group.leave() }
        let outData = output.fileHandleForReading.readDataToEndOfFile()
        group.wait()
        let errData = errors.data
        process.waitUntilExit()
        return RunResult(status: process.terminationStatus,
                         stdout: String(decoding: outData, as: UTF8.self),
                         stderr: String(decoding: errData, as: UTF8.self))
    }
}
